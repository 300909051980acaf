package memory

import "unsafe"

// nameIndex finds the entries of a group past manyEntries by name: a map
// by name, and before it guesses by the address of the caller's name.
//
// Detectors name their state with constants and strings they build once
// (enumeration's three grid windows and its days, recon's grids), so the
// name of a look-up is, far more often than not, the very string of an
// earlier look-up in the group. The map hashed every byte of it and then
// compared it with the entry's copy (mapaccess2_faststr with aeshash and
// memeqbody, some 190 instructions a look-up, 7 % of the store's on the
// realistic month). A guess is one load by the string's address and a
// comparison of two words.
//
// A guess holds the string it was made for, so that string's bytes stay
// where they are, unchanged (a Go string's bytes are never written, and
// the strings the module builds over bytes of its own with unsafe.String
// are never written again either, as state's nameHashes relies on too):
// a name at the same address and of the same length is the same name.
// Holding it keeps at most guessSlots callers' names alive per indexed
// group until other names take their slots: keys' names, which detectors
// build from constants, and a few dozen bytes each. The position a guess
// gives stays right while the entries do not move: remove, the one change
// that moves an entry, forgets every guess of the group (see forget).
type nameIndex struct {
	pos   map[string]int32 // name → position in the group's entries
	guess [guessSlots]guess
}

// guess is a name looked up in a group and its entry's position there
// + 1; 0: none (a slot of no guess holds "", which an empty name would
// otherwise match).
type guess struct {
	name string
	pos  int32
}

// guessSlots is how many guesses an index keeps, in pairs: a name's
// guess is in its slot (see guessSlot) or the other of its pair. On the
// realistic month a large group sees a few dozen names often, and 128
// slots so take over nine in ten of the look-ups of names it holds (one
// slot a name: eight to nine in ten, depending on where the linker put
// the constants).
const (
	guessBits  = 7
	guessSlots = 1 << guessBits
)

// nameIndexSize is the bytes a nameIndex takes besides its map.
var nameIndexSize = alloc(int64(unsafe.Sizeof(nameIndex{})))

// guessSlot returns the slot of the guess for a name at address p: the
// top bits of a Fibonacci hash of the address. Names are 8- or 16-byte
// aligned on the heap and packed at odd addresses in the binary's
// read-only data; the multiplication spreads both.
func guessSlot(p *byte) uintptr {
	return uintptr(uint64(uintptr(unsafe.Pointer(p))) * 0x9E3779B97F4A7C15 >> (64 - guessBits))
}

// newNameIndex indexes entries.
func newNameIndex(entries []*entry) *nameIndex {
	x := &nameIndex{pos: make(map[string]int32, len(entries))}
	for i, e := range entries {
		x.pos[e.name] = int32(i)
	}
	return x
}

// find returns the position of the entry named name in the group's
// entries, or -1. It tries the guesses of the string's address and asks
// the map (look) without one.
func (x *nameIndex) find(name string) int {
	p := unsafe.StringData(name)
	i := guessSlot(p)
	if g := &x.guess[i]; unsafe.StringData(g.name) == p && len(g.name) == len(name) && g.pos > 0 {
		return int(g.pos) - 1
	}
	if g := &x.guess[i^1]; unsafe.StringData(g.name) == p && len(g.name) == len(name) && g.pos > 0 {
		return int(g.pos) - 1
	}
	return x.look(name)
}

// look is find without a guess, which it makes for the next look-up of
// the same string, in the string's slot, the guess there moving to the
// other of the pair.
func (x *nameIndex) look(name string) int {
	i, ok := x.pos[name]
	if !ok {
		return -1
	}
	s := guessSlot(unsafe.StringData(name))
	x.guess[s^1] = x.guess[s]
	x.guess[s] = guess{name: name, pos: i + 1}
	return int(i)
}

// forget drops every guess: entries moved.
func (x *nameIndex) forget() { clear(x.guess[:]) }
