package memory

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unique"

	"github.com/iamsentry/iamsentry/state"
)

// TestGroupIndexFollowsEntries adds and removes names on one identity in a
// random order, across the move to an index past manyEntries and back
// below it, and checks that find agrees with the entries after every step.
func TestGroupIndexFollowsEntries(t *testing.T) {
	var sh shard
	sh.init(0)
	r := rand.New(rand.NewPCG(1, 2))
	key := func(i int) state.Key {
		return state.Key{Tenant: "acme", Identity: "busy", Name: fmt.Sprintf("policy:p%03d", i)}
	}
	held := map[int]bool{}
	indexed := false
	for step := range 3000 {
		i := r.IntN(3 * manyEntries)
		if g := sh.group(key(i)); held[i] {
			sh.remove(g, g.find(key(i).Name))
			delete(held, i)
		} else {
			if g == nil {
				g = sh.create(key(i))
			}
			sh.add(g, newEntry(unique.Make(key(i).Name), kindMark))
			held[i] = true
		}
		g := sh.group(key(0))
		if len(held) == 0 {
			if g != nil {
				t.Fatalf("step %d: the identity holds nothing, yet its group is there", step)
			}
			continue
		}
		if len(g.entries) != len(held) {
			t.Fatalf("step %d: %d entries, want %d", step, len(g.entries), len(held))
		}
		for j := range 3 * manyEntries {
			at := g.find(key(j).Name)
			switch {
			case held[j] && (at < 0 || g.entries[at].name.Value() != key(j).Name):
				t.Fatalf("step %d: find(%s) = %d, not its entry (index kept: %v)", step, key(j).Name, at, g.index != nil)
			case !held[j] && at >= 0:
				t.Fatalf("step %d: find(%s) = %d after its removal", step, key(j).Name, at)
			}
		}
		indexed = indexed || g.index != nil
		if g.index != nil && len(g.index) != len(g.entries) {
			t.Fatalf("step %d: index of %d names for %d entries", step, len(g.index), len(g.entries))
		}
	}
	if !indexed {
		t.Error("the group never grew an index: the test misses the indexed path")
	}
	if sh.keys != len(held) {
		t.Errorf("shard counts %d keys, holds %d", sh.keys, len(held))
	}
}
