package engine

import (
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
)

// TestReleasedScratchComesBackCleared: scratch handed back by a batch
// holds its items (a verdict's findings share an item's candidates, so a
// stale one would be appended to), evaluations and owners; whatever the
// pool returns next must hold none of them.
func TestReleasedScratchComesBackCleared(t *testing.T) {
	for range 20 { // the pool may drop what it was given (it does under -race)
		s := &scoring{scratch: getScratch(4)}
		s.scratch.items[2].candidates = []detectors.Finding{{DetectorID: "stale"}}
		s.scratch.items[3].owner = "stale"
		s.scratch.evals = append(s.scratch.evals, detectors.EvaluationFunc(nil))
		s.scratch.seen["stale"] = 3
		s.release()
		sc := getScratch(4)
		for i, it := range sc.items[:cap(sc.items)] {
			if it.candidates != nil || it.owner != "" {
				t.Fatalf("reused scratch: item %d still holds %+v", i, it)
			}
		}
		if len(sc.evals) != 0 || len(sc.seen) != 0 {
			t.Fatalf("reused scratch: evaluations %d, owners %v", len(sc.evals), sc.seen)
		}
		for _, ev := range sc.evals[:cap(sc.evals)] {
			if ev != nil {
				t.Fatal("reused scratch: a stale evaluation beyond its length")
			}
		}
	}
}
