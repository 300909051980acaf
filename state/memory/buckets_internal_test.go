package memory

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBucketHistoryMatchesModel checks the buckets of an entry against a
// map by bucket start, through adds in shuffled time order (late events
// land in earlier buckets), trims and histories that reach before the
// oldest bucket and past the newest.
func TestBucketHistoryMatchesModel(t *testing.T) {
	const w = 10
	e := newEntry("days", kindBuckets)
	model := map[int64]map[string]bool{}
	r := rand.New(rand.NewPCG(5, 6))
	var x scratch
	for step := range 4000 {
		at := int64(step/4 + r.IntN(60) - 30)
		start := at - at%w
		switch r.IntN(10) {
		case 0:
			cutoff := at - 150
			e.trimBuckets(cutoff, w)
			for b := range model {
				if b+w <= cutoff {
					delete(model, b)
				}
			}
		default:
			m := fmt.Sprintf("m%d", r.IntN(30))
			e.addToBucket(start, m)
			if model[start] == nil {
				model[start] = map[string]bool{}
			}
			model[start][m] = true
		}
		if !slices.IsSortedFunc(e.aux.buckets, func(a, b bucket) int { return int(a.start - b.start) }) {
			t.Fatalf("step %d: buckets out of order", step)
		}
		last, n := start+int64(r.IntN(5)-2)*w, r.IntN(25)
		got := e.history(last, w, n, &x)
		for i := range n {
			if want := len(model[last-int64(n-1-i)*w]); got[i] != want {
				t.Fatalf("step %d: history(%d, %d)[%d] = %d, want %d", step, last, n, i, got[i], want)
			}
		}
	}
	if len(e.aux.buckets) < 5 {
		t.Fatalf("%d buckets at the end: the test checked too few", len(e.aux.buckets))
	}
}
