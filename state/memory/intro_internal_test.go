package memory

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestForgetIntrosMatchesFilter checks forgetIntros against a plain
// filter of the introductions made at cutoff or later: what it keeps, in
// order, what it reports, and the bytes of strings it stops counting.
func TestForgetIntrosMatchesFilter(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 500 {
		var e entry
		n := r.IntN(6)
		for i := range n {
			in := introduction{member: fmt.Sprintf("m%d", i), owner: fmt.Sprintf("owner%d", r.IntN(3)), when: int64(r.IntN(10))}
			e.intro = append(e.intro, in)
			e.strs += int64(len(in.member) + len(in.owner))
		}
		before := slices.Clone(e.intro)
		cutoff := int64(r.IntN(12))
		var want []introduction
		strs := int64(0)
		for _, in := range before {
			if in.when >= cutoff {
				want = append(want, in)
				strs += int64(len(in.member) + len(in.owner))
			}
		}
		dropped := e.forgetIntros(cutoff)
		if !slices.Equal(e.intro, want) {
			t.Fatalf("round %d: forgetIntros(%d) of %v kept %v, want %v", round, cutoff, before, e.intro, want)
		}
		if dropped != (len(want) < len(before)) || e.strs != strs {
			t.Fatalf("round %d: forgetIntros(%d) of %v reported %v and %d string bytes, want %v and %d",
				round, cutoff, before, dropped, e.strs, len(want) < len(before), strs)
		}
		if dropped { // the slots given up hold no strings to pin
			full := e.intro[:n]
			for i := len(e.intro); i < n; i++ {
				if full[i] != (introduction{}) {
					t.Fatalf("round %d: slot %d past the kept ones still holds %v", round, i, full[i])
				}
			}
		}
	}
}
