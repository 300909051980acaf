package consistency_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/consistency"
	"github.com/iamsentry/iamsentry/internal/corpus"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

func newMemory(t *testing.T) state.Store {
	s := memory.New()
	t.Cleanup(func() { s.Close() })
	return s
}

// withRedeliveries returns recs with about one record in ten delivered a
// second time, a little later, as an at-least-once shipper does after a
// lost acknowledgement.
func withRedeliveries(recs []corpus.Record, seed uint64) []corpus.Record {
	rng := rand.New(rand.NewPCG(seed, seed))
	out := make([]corpus.Record, 0, len(recs)*11/10)
	for i, r := range recs {
		out = append(out, r)
		if rng.IntN(10) == 0 && i > 3 {
			out = append(out, recs[i-rng.IntN(3)])
		}
	}
	return out
}

// checkShuffle scores one generated corpus in event-time order and, on a
// fresh store, shuffled within the lateness with redeliveries, and requires
// the same incidents, each alerted once.
func checkShuffle(t *testing.T, newStore func(*testing.T) state.Store, seed uint64) {
	ctx := context.Background()
	recs := corpus.Generate(corpus.Options{Seed: seed})
	sortedEng, err := consistency.NewEngine(newStore(t))
	if err != nil {
		t.Fatal(err)
	}
	sorted, err := consistency.Score(ctx, sortedEng, consistency.Raws(recs), 100)
	if err != nil {
		t.Fatal(err)
	}
	want := consistency.Incidents(sorted)
	if len(want) == 0 {
		t.Fatal("the sorted corpus raised no incident: the check would prove nothing")
	}

	delivered := withRedeliveries(corpus.Shuffle(recs, consistency.Lateness, seed+100), seed+200)
	shuffledEng, err := consistency.NewEngine(newStore(t))
	if err != nil {
		t.Fatal(err)
	}
	shuffled, err := consistency.Score(ctx, shuffledEng, consistency.Raws(delivered), 100)
	if err != nil {
		t.Fatal(err)
	}
	got := consistency.Incidents(shuffled)
	if d := consistency.Diff(want, got); d != "" {
		t.Errorf("seed %d: shuffled delivery changed the incidents:\n%s", seed, d)
	}
	if r := consistency.Repeated(got); len(r) > 0 {
		t.Errorf("seed %d: incidents alerted more than once: %v", seed, r)
	}
	t.Logf("seed %d: %d records (%d delivered), incidents by detector %v",
		seed, len(recs), len(delivered), consistency.ByDetector(want))
}

func TestShuffledDeliveryMemory(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		checkShuffle(t, newMemory, seed)
	}
}

func TestShuffledDeliveryRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	for seed := uint64(1); seed <= 2; seed++ {
		checkShuffle(t, func(t *testing.T) state.Store { return open(t) }, seed)
	}
}

func TestShuffledDeliveryRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	c := redistest.StartCluster(t, 3)
	checkShuffle(t, func(t *testing.T) state.Store { return rstore.Open(t, c.SeedURL(), rstore.Prefix()) }, 3)
}

// TestExactlyOnceAcrossReplicas delivers every record of a corpus to two
// engines sharing one Redis (two replicas behind a load balancer), each
// record to both in turn, as a shipper retrying on another replica would:
// the second delivery is a DUPLICATE carrying the first one's findings, and
// the incidents are those of one engine fed the corpus once.
func TestExactlyOnceAcrossReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	ctx := context.Background()
	srv := redistest.StartServer(t)
	prefix := rstore.Prefix()
	a, err := consistency.NewEngine(rstore.Open(t, srv.URL(), prefix))
	if err != nil {
		t.Fatal(err)
	}
	b, err := consistency.NewEngine(rstore.Open(t, srv.URL(), prefix))
	if err != nil {
		t.Fatal(err)
	}
	recs := consistency.Raws(corpus.Generate(corpus.Options{Seed: 5}))
	var first, second []engine.Verdict
	for i := 0; i < len(recs); i += 50 {
		batch := recs[i:min(i+50, len(recs))]
		va, err := consistency.Score(ctx, a, batch, 50)
		if err != nil {
			t.Fatal(err)
		}
		vb, err := consistency.Score(ctx, b, batch, 50)
		if err != nil {
			t.Fatal(err)
		}
		first, second = append(first, va...), append(second, vb...)
	}
	for i := range second {
		if second[i].Outcome != engine.OutcomeDuplicate {
			t.Fatalf("record %d redelivered to the other replica: %v, want DUPLICATE", i, second[i].Outcome)
		}
		if len(second[i].Findings) != len(first[i].Findings) {
			t.Fatalf("record %d: the duplicate carries %d findings, the original %d", i, len(second[i].Findings), len(first[i].Findings))
		}
		for j := range second[i].Findings {
			if second[i].Findings[j].Explanation != first[i].Findings[j].Explanation {
				t.Fatalf("record %d: duplicate finding differs from the original", i)
			}
		}
	}
	ref, err := consistency.NewEngine(newMemory(t))
	if err != nil {
		t.Fatal(err)
	}
	once, err := consistency.Score(ctx, ref, recs, 50)
	if err != nil {
		t.Fatal(err)
	}
	if d := consistency.Diff(consistency.Incidents(once), consistency.Incidents(first)); d != "" {
		t.Errorf("two replicas with redeliveries differ from one engine fed once:\n%s", d)
	}
	if len(consistency.Incidents(once)) == 0 {
		t.Fatal("no incidents: the check proves nothing")
	}
}
