package memory

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/iamsentry/iamsentry/state"
)

// indexedGroup returns a group of n entries named names[0:n], copies of
// the callers' strings as the store makes them, past manyEntries so that
// it keeps an index.
func indexedGroup(t *testing.T, sh *shard, names []string) *group {
	t.Helper()
	k := state.Key{Identity: "busy"}
	g := sh.create(&k, hashKey(k))
	for _, n := range names {
		sh.add(g, newEntry(strings.Clone(n), kindMark))
	}
	if g.index == nil {
		t.Fatalf("a group of %d entries keeps no index", len(names))
	}
	return g
}

// TestNameIndexGuessesNeverLie looks names up by the very strings of
// earlier look-ups (what the guesses answer) while entries are removed,
// which moves the last entry into the removed one's place and leaves the
// guesses of both stale, and added again at other positions. find must
// agree with a scan of the entries after every step, for the strings of
// earlier look-ups and for fresh copies of them alike.
func TestNameIndexGuessesNeverLie(t *testing.T) {
	var sh shard
	sh.init(0)
	names := make([]string, 3*manyEntries)
	for i := range names {
		names[i] = fmt.Sprintf("enum:grid:%03d", i)
	}
	g := indexedGroup(t, &sh, names[:2*manyEntries])
	held := func(name string) int {
		for i, e := range g.entries {
			if e.name == name {
				return i
			}
		}
		return -1
	}
	check := func(step int) {
		t.Helper()
		for _, n := range names {
			for _, s := range []string{n, strings.Clone(n)} { // a guess's address, and another
				if got, want := g.find(s), held(s); got != want {
					t.Fatalf("step %d: find(%s) = %d, the entries hold it at %d", step, s, got, want)
				}
			}
		}
	}
	guessed := 0
	for step := range 400 {
		check(step) // makes a guess of every name held
		for _, n := range names {
			if i := held(n); i >= 0 && g.index.guessed(n) == i {
				guessed++
			}
		}
		switch n := names[(step*7)%len(names)]; {
		case held(n) >= 0 && len(g.entries) > manyEntries+1:
			sh.remove(g, g.find(n))
		case held(n) < 0:
			sh.add(g, newEntry(strings.Clone(n), kindMark))
		}
	}
	check(400)
	if guessed == 0 {
		t.Error("no look-up was answered by a guess: the test misses the guessed path")
	}
}

// TestNameIndexStaleGuessAtAnotherName plants guesses that point at the
// entry of another name, and past the entries, as a string freed and its
// address reused for another name, or a removal, would leave them: find
// must not take them, and must guess right after.
func TestNameIndexStaleGuessAtAnotherName(t *testing.T) {
	var sh shard
	sh.init(0)
	names := make([]string, manyEntries+4)
	for i := range names {
		names[i] = fmt.Sprintf("policy:p%03d", i)
	}
	g := indexedGroup(t, &sh, names)
	plant := func(n string, pos int) {
		p := unsafe.StringData(n)
		s, tag := guessSlot(p), uint64(uint32(uintptr(unsafe.Pointer(p))))<<32
		g.index.guess[s], g.index.guess[s^1] = tag|uint64(pos+1), tag|uint64(pos+1)
	}
	for i, n := range names {
		plant(n, (i+1)%len(names))
		if got := g.find(n); got != i {
			t.Fatalf("find(%s) = %d, want %d: a guess at %s's entry was taken", n, got, i, names[(i+1)%len(names)])
		}
		if got := g.index.guessed(n); got != i {
			t.Fatalf("after find(%s), its guess is %d, want %d", n, got, i)
		}
		plant(n, len(names)+5)
		if got := g.find(n); got != i {
			t.Fatalf("find(%s) = %d with a guess past the entries, want %d", n, got, i)
		}
	}
	if got := g.find("policy:absent"); got != -1 {
		t.Fatalf("find of a name not held = %d, want -1", got)
	}
}

// TestNameIndexEmptyName holds an entry named "" in an indexed group: an
// empty slot, which holds "" too, must not answer for it, nor for an
// empty name the group does not hold.
func TestNameIndexEmptyName(t *testing.T) {
	var sh shard
	sh.init(0)
	names := make([]string, manyEntries+2)
	for i := range names {
		names[i] = fmt.Sprintf("n%02d", i)
	}
	g := indexedGroup(t, &sh, names)
	if got := g.find(""); got != -1 {
		t.Fatalf(`find("") = %d in a group without it, want -1`, got)
	}
	sh.add(g, newEntry("", kindMark))
	for range 2 { // the map, then the guess
		if got := g.find(""); got != len(names) {
			t.Fatalf(`find("") = %d, want %d`, got, len(names))
		}
	}
}

// TestNameIndexCosted checks that a group's cost counts its index's
// guesses from the moment it has an index.
func TestNameIndexCosted(t *testing.T) {
	var sh shard
	sh.init(0)
	names := make([]string, manyEntries+1)
	for i := range names {
		names[i] = fmt.Sprintf("n%02d", i)
	}
	g := indexedGroup(t, &sh, names)
	without := *g
	without.index = nil
	if got, min := g.cost()-without.cost(), nameIndexSize+mapBytes(cap(g.entries), 16+8); got != min {
		t.Errorf("the index adds %d bytes to the group's cost, want %d (guesses %d and map)", got, min, nameIndexSize)
	}
	if nameIndexSize < guessSlots*8 {
		t.Errorf("nameIndexSize = %d, under the bytes of its guesses", nameIndexSize)
	}
}

// guessed returns the position x guesses for s's address, right or not,
// or -1 when it has no guess for it.
func (x *nameIndex) guessed(s string) int {
	p := unsafe.StringData(s)
	i, tag := guessSlot(p), uint64(uint32(uintptr(unsafe.Pointer(p))))<<32
	for _, g := range []uint64{x.guess[i], x.guess[i^1]} {
		if g != 0 && g&^(1<<32-1) == tag {
			return int(uint32(g)) - 1
		}
	}
	return -1
}

// FuzzNameIndex runs a group past manyEntries through adds, removals and
// look-ups of names from a small pool, each looked up either by the
// pool's own string (which the guesses answer after the first time) or
// by a fresh copy, and checks find against a scan of the entries.
func FuzzNameIndex(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 130, 131, 4, 200, 5, 6})
	f.Add([]byte("remove the moved ones and look them up again"))
	f.Fuzz(func(t *testing.T, steps []byte) {
		var sh shard
		sh.init(0)
		pool := make([]string, 2*manyEntries+8)
		for i := range pool {
			pool[i] = fmt.Sprintf("k%d", i)
		}
		pool[0] = ""
		g := indexedGroup(t, &sh, pool[1:manyEntries+2])
		scan := func(name string) int {
			for i, e := range g.entries {
				if e.name == name {
					return i
				}
			}
			return -1
		}
		for step, b := range steps {
			name := pool[int(b&63)%len(pool)]
			if b&128 != 0 {
				name = strings.Clone(name)
			}
			at := g.find(name)
			if want := scan(name); at != want {
				t.Fatalf("step %d: find(%q) = %d, the entries hold it at %d", step, name, at, want)
			}
			switch {
			case b&64 == 0:
			case at >= 0 && len(g.entries) > 1:
				sh.remove(g, at)
			case at < 0:
				sh.add(g, newEntry(strings.Clone(name), kindMark))
			}
		}
	})
}

// TestNameIndexPairKeepsTwo looks up two names whose addresses share a
// slot, in turn: both must stay guessed, the first in the other slot of
// the pair, and a third of the same slot must push out the older.
func TestNameIndexPairKeepsTwo(t *testing.T) {
	var sh shard
	sh.init(0)
	names := make([]string, 4*guessSlots)
	for i := range names {
		names[i] = fmt.Sprintf("window:%04d", i)
	}
	bySlot := map[uintptr][]string{}
	var same3 []string
	for _, n := range names {
		s := guessSlot(unsafe.StringData(n))
		bySlot[s] = append(bySlot[s], n)
		if len(bySlot[s]) == 3 {
			same3 = bySlot[s]
			break
		}
	}
	if same3 == nil {
		t.Fatal("no three names share a slot")
	}
	g := indexedGroup(t, &sh, names)
	pos := func(n string) int {
		for i, e := range g.entries {
			if e.name == n {
				return i
			}
		}
		return -1
	}
	a, b, c := same3[0], same3[1], same3[2]
	g.find(a)
	g.find(b)
	if g.index.guessed(a) != pos(a) || g.index.guessed(b) != pos(b) {
		t.Fatalf("after looking up %s and %s of one slot, guesses %d and %d, want %d and %d",
			a, b, g.index.guessed(a), g.index.guessed(b), pos(a), pos(b))
	}
	g.find(c)
	if g.index.guessed(a) != -1 || g.index.guessed(b) != pos(b) || g.index.guessed(c) != pos(c) {
		t.Fatalf("after a third name of the slot, guesses %d, %d, %d; want -1, %d, %d",
			g.index.guessed(a), g.index.guessed(b), g.index.guessed(c), pos(b), pos(c))
	}
}
