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
// realistic month). A guess is a load by the string's address and one
// comparison of the names.
//
// A guess is only ever a guess: it is taken when the entry at its
// position is named name, which the comparison checks (names are unique
// within a group), so a guess left stale by a removal that moved entries,
// or by an address that now holds another string, costs a look-up in the
// map and never a wrong answer. The guesses hold no pointer: they keep no
// caller's string alive. (Holding the names, to trust a guess on its
// address alone, kept what the names were cut from alive: 4 to 8 MB more
// live heap after the realistic month, for some 30M instructions of it.)
type nameIndex struct {
	pos map[string]int32 // name → position in the group's entries
	// guess holds, by slot of the address of a name looked up (see
	// guessSlot), the low 32 bits of that address in its high 32 bits and
	// the entry's position + 1 in its low 32 bits; 0: none.
	guess [guessSlots]uint64
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

// find returns the position in entries, the group's, of the entry named
// name, or -1. It tries the guesses of the string's address and asks the
// map (look) when neither holds.
func (x *nameIndex) find(name string, entries []*entry) int {
	p := unsafe.StringData(name)
	tag, s := uint64(uint32(uintptr(unsafe.Pointer(p))))<<32, guessSlot(p)
	if g := x.guess[s]; g&^(1<<32-1) == tag {
		if i := int(uint32(g)) - 1; uint(i) < uint(len(entries)) && same(entries[i].name, name) {
			return i
		}
	}
	if g := x.guess[s^1]; g&^(1<<32-1) == tag {
		if i := int(uint32(g)) - 1; uint(i) < uint(len(entries)) && same(entries[i].name, name) {
			return i
		}
	}
	return x.look(name, tag, s)
}

// look is find without a guess that holds, which it makes for the next
// look-up of a string at the same address: in the address's slot s, the
// guess there moving to the other of the pair. tag is the address's
// part of a guess.
func (x *nameIndex) look(name string, tag uint64, s uintptr) int {
	i, ok := x.pos[name]
	if !ok {
		return -1
	}
	x.guess[s^1] = x.guess[s]
	x.guess[s] = tag | uint64(i+1)
	return int(i)
}
