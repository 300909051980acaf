package memory

import (
	"fmt"
	"math/rand/v2"
	"testing"

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
		if g := sh.group(ptr(key(i)), hashKey(key(i))); held[i] {
			sh.remove(g, g.find(key(i).Name))
			delete(held, i)
		} else {
			if g == nil {
				g = sh.create(ptr(key(i)), hashKey(key(i)))
			}
			sh.add(g, newEntry(key(i).Name, kindMark))
			held[i] = true
		}
		g := sh.group(ptr(key(0)), hashKey(key(0)))
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
			case held[j] && (at < 0 || g.entries[at].name != key(j).Name):
				t.Fatalf("step %d: find(%s) = %d, not its entry (index kept: %v)", step, key(j).Name, at, g.index != nil)
			case !held[j] && at >= 0:
				t.Fatalf("step %d: find(%s) = %d after its removal", step, key(j).Name, at)
			}
		}
		indexed = indexed || g.index != nil
		if g.index != nil && len(g.index.pos) != len(g.entries) {
			t.Fatalf("step %d: index of %d names for %d entries", step, len(g.index.pos), len(g.entries))
		}
	}
	if !indexed {
		t.Error("the group never grew an index: the test misses the indexed path")
	}
	if sh.keys != len(held) {
		t.Errorf("shard counts %d keys, holds %d", sh.keys, len(held))
	}
}

// TestTenantsKeptApart holds identities of the same name under several
// tenants in one shard, sweeps one tenant away (past the size at which the
// maps are rebuilt) and checks that every lookup still finds its own
// tenant's group, or none, and that the counts follow.
func TestTenantsKeptApart(t *testing.T) {
	var sh shard
	sh.init(0)
	put := func(tenant string, i int, expires int64) {
		k := state.Key{Tenant: tenant, Identity: fmt.Sprintf("id%04d", i), Name: "n"}
		g := sh.group(&k, hashKey(k))
		if g == nil {
			g = sh.create(&k, hashKey(k))
		}
		e := newEntry(k.Name, kindValue)
		e.value, e.expires = tenant, expires
		sh.add(g, e)
	}
	const flood = 2000
	for i := range flood {
		put("a", i, 1) // expires first
	}
	for i := range 10 {
		put("", i, 100)
		put("b", i, 100)
	}
	if sh.groups != flood+20 {
		t.Fatalf("%d groups, want %d", sh.groups, flood+20)
	}
	sh.sweep(50)
	if sh.groups != 20 || len(sh.ids) != 20 {
		t.Fatalf("after the sweep: %d groups under %d hashes, want 20 under 20", sh.groups, len(sh.ids))
	}
	if sh.peak != 20 {
		t.Errorf("peak %d after the maps were rebuilt, want 20", sh.peak)
	}
	for _, tenant := range []string{"a", "", "b", "a"} {
		for i := range 12 {
			k := state.Key{Tenant: tenant, Identity: fmt.Sprintf("id%04d", i)}
			g := sh.group(&k, hashKey(k))
			switch want := tenant != "a" && i < 10; {
			case want && (g == nil || g.entries[0].value != tenant):
				t.Fatalf("tenant %q, identity %d: group %v, want its own", tenant, i, g)
			case !want && g != nil:
				t.Fatalf("tenant %q, identity %d: a group after its tenant was swept", tenant, i)
			}
		}
	}
	put("a", 0, 200)
	k := state.Key{Tenant: "a", Identity: "id0000"}
	if g := sh.group(&k, hashKey(k)); g == nil || sh.groups != 21 {
		t.Fatalf("tenant a came back: group %v, %d groups; want it and 21", g, sh.groups)
	}
}

// TestCollidingIdentitiesChained forces identities onto one hash, as a
// collision of hashKey would, and checks that each is found as itself,
// and that dropping any of them, first, middle or last of the chain,
// keeps the others.
func TestCollidingIdentitiesChained(t *testing.T) {
	defer func(prev func(state.Key) uint64) { rehash = prev }(rehash)
	rehash = func(state.Key) uint64 { return 42 }
	var sh shard
	sh.init(0)
	const h = 42
	keys := make([]state.Key, 5)
	for i := range keys {
		keys[i] = state.Key{Tenant: "acme", Identity: fmt.Sprintf("id%d", i), Name: "n"}
		sh.add(sh.create(&keys[i], h), newEntry("n", kindMark))
	}
	held := map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true}
	for _, gone := range []int{4, 2, 0, 3, 1} { // the head of the chain is the last created
		for i, k := range keys {
			sh.recent = [recentGroups]*group{} // look up through the map
			g := sh.group(&k, h)
			switch {
			case held[i] && (g == nil || g.key.identity != k.Identity):
				t.Fatalf("before dropping %d: identity %d found as %v", gone, i, g)
			case !held[i] && g != nil:
				t.Fatalf("before dropping %d: identity %d found after it was dropped", gone, i)
			}
		}
		g := sh.group(&keys[gone], h)
		sh.remove(g, 0) // its last entry: drops it
		delete(held, gone)
		if sh.groups != len(held) {
			t.Fatalf("after dropping %d: %d groups, want %d", gone, sh.groups, len(held))
		}
	}
	if len(sh.ids) != 0 {
		t.Fatalf("every identity dropped, yet ids holds %d hashes", len(sh.ids))
	}
}

// ptr returns a pointer to a copy of k, for the shard's functions that
// take a key by address.
func ptr(k state.Key) *state.Key { return &k }

// TestCachedSkipsFreeSlots leaves the hash of the identity looked up in
// free slots of the recent groups, as forget leaves a hash behind: cached
// must not answer from a free slot, and must find the group once it is
// recent.
func TestCachedSkipsFreeSlots(t *testing.T) {
	var sh shard
	sh.init(0)
	k := state.Key{Identity: "alice"}
	h := hashKey(k)
	for i := range sh.recentHash {
		sh.recentHash[i] = h
	}
	if g := sh.cached(&k, h); g != nil {
		t.Fatalf("cached answered %p from free slots", g)
	}
	g := sh.create(&k, h)
	other := state.Key{Identity: "bob"}
	sh.create(&other, hashKey(other)) // g is second now
	if got := sh.cached(&k, h); got != g {
		t.Fatalf("cached = %p, want the group made, %p", got, g)
	}
	sh.forget(g)
	if got := sh.cached(&k, h); got != nil {
		t.Fatalf("cached = %p after the group was forgotten, want nil", got)
	}
}
