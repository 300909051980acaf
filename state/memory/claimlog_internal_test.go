package memory

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestClaimLogAgainstAMap runs random puts, drops, expiries and evictions
// on a claim log and on a plain map with a list in order of use, and
// checks after every step that both hold the same claims in the same
// order. The hashes' high bits, which place a claim in the index, take a
// few values only, so that probes run long and deletions move slots back.
func TestClaimLogAgainstAMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var l claimLog
	want := map[uint64]claim{}
	var order []uint64 // hashes, least recently used first
	var tick uint64
	hash := func() uint64 { return uint64(rng.IntN(8))<<32 | uint64(rng.IntN(4000)) }
	remove := func(h uint64) {
		delete(want, h)
		order = slices.DeleteFunc(order, func(o uint64) bool { return o == h })
	}
	for step := range 200_000 {
		switch op := rng.IntN(100); {
		case op < 60:
			tick++
			h := hash()
			c := claim{h: h, digest: h * 7, expires: int64(rng.IntN(1000)), used: tick}
			l.put(c)
			remove(h)
			want[h], order = c, append(order, h)
		case op < 90:
			h := hash()
			c, ok := l.drop(h)
			if _, held := want[h]; ok != held || (ok && c != want[h]) {
				t.Fatalf("step %d: drop(%#x) = %+v, %v; want %+v, %v", step, h, c, ok, want[h], held)
			}
			remove(h)
		case op < 99:
			c, ok := l.oldest()
			if ok != (len(order) > 0) || (ok && c != want[order[0]]) {
				t.Fatalf("step %d: oldest = %+v, %v; want the claim of %v", step, c, ok, order)
			}
			if ok {
				l.drop(c.h)
				remove(c.h)
			}
		default:
			now := int64(rng.IntN(1000))
			l.dropExpired(now, func(c claim) {
				if c.expires > now || c != want[c.h] {
					t.Fatalf("step %d: dropExpired(%d) dropped %+v", step, now, c)
				}
			})
			for _, h := range slices.Clone(order) {
				if want[h].expires <= now {
					remove(h)
				}
			}
		}
		if l.len() != len(want) {
			t.Fatalf("step %d: log holds %d claims, want %d", step, l.len(), len(want))
		}
		if step%1000 == 0 {
			var got []uint64
			l.each(func(c *claim) { got = append(got, c.h) })
			if !slices.Equal(got, order) {
				t.Fatalf("step %d: log in order of use %v, want %v", step, got, order)
			}
			for h, c := range want {
				if g, ok := l.get(h); !ok || g != c {
					t.Fatalf("step %d: get(%#x) = %+v, %v; want %+v", step, h, g, ok, c)
				}
			}
		}
	}
	if l.n-l.live > max(claimChunk, l.live) {
		t.Fatalf("log holds %d records for %d claims: it did not compact", l.n, l.live)
	}
}
