package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/state/memory"
)

// TestReleasedScratchComesBackCleared: scratch handed back by a batch
// holds its items (a verdict's findings share an item's candidates, so a
// stale one would be appended to), evaluations and owners; whatever the
// pool returns next must hold none of them.
func TestReleasedScratchComesBackCleared(t *testing.T) {
	for range 20 { // the pool may drop what it was given (it does under -race)
		s := &scoring{scratch: getScratch(4)}
		s.items = s.scratch.items[:4] // as newScoring leaves them
		s.scratch.items[2].candidates = []detectors.Finding{{DetectorID: "stale"}}
		s.scratch.items[3].owner = "stale"
		s.scratch.evals = append(s.scratch.evals, detectors.EvaluationFunc(nil))
		s.scratch.seen.first("stale", 3, 3, s.items)
		s.release()
		sc := getScratch(4)
		for i, it := range sc.items[:cap(sc.items)] {
			if it.candidates != nil || it.owner != "" {
				t.Fatalf("reused scratch: item %d still holds %+v", i, it)
			}
		}
		if len(sc.evals) != 0 || sc.seen.held() != 0 {
			t.Fatalf("reused scratch: evaluations %d, owners %d", len(sc.evals), sc.seen.held())
		}
		for _, ev := range sc.evals[:cap(sc.evals)] {
			if ev != nil {
				t.Fatal("reused scratch: a stale evaluation beyond its length")
			}
		}
	}
}

// TestScoredScratchComesBackCleared scores a large batch and then a small
// one through the engine: release clears only what a batch wrote, so the
// scratch the pool hands out after each must still be zero to capacity,
// items and evaluations alike, or a later batch would read the earlier
// one's findings and evaluations.
func TestScoredScratchComesBackCleared(t *testing.T) {
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	e := New(reg, mem, Options{})
	t0 := time.Date(2024, 9, 2, 9, 0, 0, 0, time.UTC)
	batch := func(n, from int) [][]byte {
		var recs [][]byte
		for i := range n {
			at := t0.Add(time.Duration(from+i) * time.Second)
			recs = append(recs, fmt.Appendf(nil, `{"eventVersion":"1.08","eventID":"e-%d","eventTime":%q,`+
				`"eventSource":"iam.amazonaws.com","eventName":"ListThing%03d","awsRegion":"us-east-1",`+
				`"sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15.0","readOnly":true,`+
				`"recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE",`+
				`"arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333",`+
				`"accessKeyId":"AKIAEXAMPLE0000000001","userName":"alice"}}`,
				from+i, at.Format(time.RFC3339), (from+i)%1000))
		}
		return recs
	}
	for round, n := range []int{64, 1, 64, 3} {
		checked := false
		for try := range 20 { // the pool may drop what it was given (it does under -race)
			vs, err := e.Score(context.Background(), Batch{Records: batch(n, 1000*round+100*try)})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				if v.Outcome == OutcomeInvalid {
					t.Fatalf("a record of the test is invalid: %s", v.Reason)
				}
			}
			sc, _ := scratchPool.Get().(*scratch)
			if sc == nil {
				continue
			}
			checked = true
			for i, it := range sc.items[:cap(sc.items)] {
				if it.event.Record != nil || it.evals != nil || it.owner != "" || it.claim != nil {
					t.Fatalf("round %d (batch of %d): scratch item %d of %d still holds the batch's item", round, n, i, cap(sc.items))
				}
			}
			for i, ev := range sc.evals[:cap(sc.evals)] {
				if ev != nil {
					t.Fatalf("round %d (batch of %d): scratch evaluation %d of %d still set", round, n, i, cap(sc.evals))
				}
			}
			scratchPool.Put(sc)
			break
		}
		if !checked {
			t.Fatalf("round %d: the pool never handed back a scratch", round)
		}
	}
}
