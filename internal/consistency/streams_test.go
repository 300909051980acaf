package consistency_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/consistency"
	"github.com/iamsentry/iamsentry/internal/corpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpusrules"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// fullCorpusEnv, when set, makes TestRealisticCorpusAcrossStoresAndStreams
// score the realistic corpus at its default size (a month of about 150
// identities) instead of the small one `make test` uses; `make soak` sets
// it.
const fullCorpusEnv = "IAMSENTRY_FULL_CORPUS"

// streamBatch is how many records one micro-batch of a stream holds: the
// size a server's linger closes a batch at on a quiet stream, small enough
// that every delivery round spreads over many streams.
const streamBatch = 8

// TestRealisticCorpusAcrossStoresAndStreams is issue 13's acceptance
// check: the embedded store, one real Redis and a real Redis Cluster give
// identical incidents, each alerted once, on the realistic corpus scored
// by 1, 4 and 16 concurrent streams.
//
// Streams are replicas: with 4 and 16, each stream has an engine of its
// own on the one store. The records reach them as a shipper behind a
// round-robin balancer sends them: in event-time order, cut into
// micro-batches, batch i of round k to stream (i+k) mod n (see
// deliveryRounds and scoreStreams). Within a round every stream scores
// its batches at once with the others, so a record may be scored before
// an earlier one of another stream; rounds span less than the allowed
// lateness, which is all the design promises order-freedom for.
//
// `make test` scores eight days of ten people with every attack kind
// woven in once; fullCorpusEnv scores the default month (`make soak`).
func TestRealisticCorpusAcrossStoresAndStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server and a Redis Cluster")
	}
	opts := realcorpus.Options{Seed: 1, Days: 8, People: 10, AttacksPerDay: 9}
	if os.Getenv(fullCorpusEnv) != "" {
		opts = realcorpus.Options{Seed: 1}
	}
	c := realcorpus.Generate(opts)
	rounds := deliveryRounds(c.Records, consistency.Lateness)
	built := realcorpusrules.Build(t)
	srv := redistest.StartServer(t)
	cluster := redistest.StartCluster(t, 3)
	stores := []struct {
		name string
		open func(*testing.T) state.Store
	}{
		{"memory", newMemory},
		{"redis", func(t *testing.T) state.Store { return rstore.Open(t, srv.URL(), rstore.Prefix()) }},
		{"cluster", func(t *testing.T) state.Store { return rstore.Open(t, cluster.SeedURL(), rstore.Prefix()) }},
	}
	spread := 0 // rounds whose batches go to more than one stream
	for _, r := range rounds {
		if len(r) > 1 {
			spread++
		}
	}
	if spread == 0 {
		t.Fatal("no delivery round holds two batches: no stream would ever score alongside another")
	}
	t.Logf("%d records, %d attacks, %d delivery rounds, %d of them over several streams", len(c.Records), len(c.Attacks), len(rounds), spread)

	var want map[string]int
	for _, s := range stores {
		for _, n := range []int{1, 4, 16} {
			run := fmt.Sprintf("%s/%d-streams", s.name, n)
			got := consistency.Incidents(scoreStreams(t, built, s.open(t), rounds, n))
			t.Logf("%s: %d incidents, by detector %v", run, len(got), consistency.ByDetector(got))
			if r := consistency.Repeated(got); len(r) > 0 {
				t.Errorf("%s: incidents alerted more than once: %v", run, r)
			}
			if want == nil {
				if len(got) == 0 {
					t.Fatalf("%s raised no incident: the comparison would prove nothing", run)
				}
				want = got
				continue
			}
			if d := consistency.DiffSeverities(want, got); d != "" {
				t.Errorf("%s differs from memory/1-streams:\n%s", run, d)
			}
		}
	}
}

// batch is one micro-batch: records' JSON, in the order a stream sends
// them.
type batch = [][]byte

// deliveryRounds cuts recs (sorted by event time) into rounds of event
// time shorter than lateness, each round into micro-batches of
// streamBatch records in order.
func deliveryRounds(recs []corpus.Record, lateness time.Duration) [][]batch {
	var rounds [][]batch
	for start := 0; start < len(recs); {
		end := start
		for end < len(recs) && recs[end].Time.Sub(recs[start].Time) < lateness {
			end++
		}
		var round []batch
		for i := start; i < end; i += streamBatch {
			round = append(round, consistency.Raws(recs[i:min(i+streamBatch, end)]))
		}
		rounds = append(rounds, round)
		start = end
	}
	return rounds
}

// scoreStreams scores rounds through n streams, each with an engine of
// its own on store, and returns the verdicts. Batch i of round k
// goes to stream (i+k) mod n, so no stream is always first; the streams
// of a round score at once, and a round starts when the last one ended.
func scoreStreams(t *testing.T, built *config.Built, store state.Store, rounds [][]batch, n int) []engine.Verdict {
	t.Helper()
	ctx := context.Background()
	engines := make([]*engine.Engine, n)
	for i := range engines {
		engines[i] = engine.New(built.Registry, store, engine.Options{Suppress: built.Suppress})
	}
	var all []engine.Verdict
	for k, round := range rounds {
		out := make([][]engine.Verdict, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for s := range n {
			wg.Go(func() {
				for i := (s - k%n + n) % n; i < len(round); i += n {
					vs, err := engines[s].Score(ctx, engine.Batch{Records: round[i]})
					if err != nil {
						errs[s] = fmt.Errorf("stream %d, round %d, batch %d: %w", s, k, i, err)
						return
					}
					out[s] = append(out[s], vs...)
				}
			})
		}
		wg.Wait()
		for s := range n {
			if errs[s] != nil {
				t.Fatal(errs[s])
			}
			all = append(all, out[s]...)
		}
	}
	return all
}
