package consistency_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/iamsentry/iamsentry/internal/consistency"
	"github.com/iamsentry/iamsentry/internal/corpus"
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
