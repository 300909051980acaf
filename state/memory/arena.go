package memory

import (
	"math"
	"strings"
)

// claimArena holds the bytes of a shard's claims' values, in chunks
// without pointers (a claim keeps a digest of its identity, not its bytes:
// see claim). A string copied apart per claim was an allocation per event
// and a pointer the collector followed at every cycle, for 170k claims on
// the realistic month; the engine's claims hold empty values, which take
// no bytes here. Chunks are filled in turn and never grown, so no byte is copied
// as the arena grows (a slice grown by append copied each byte four times
// over); the first chunks are small, so that a store holding a few claims
// holds a few bytes for them. Dropped claims leave their bytes behind as
// dead; compact copies the live ones into fresh chunks once the dead
// outweigh them.
type claimArena struct {
	chunks [][]byte
	used   int // bytes in chunks, dead ones included
	dead   int // bytes of dropped claims still in chunks

	// labels are the names claims are under, by index: a scorer's
	// claims all have one name. It never shrinks; past maxLabels a claim
	// is held as a group instead.
	labels []string
}

// A claim's place in the arena is its chunk's index times chunkSize plus
// its offset in the chunk, in a uint32; chunks hold at most chunkSize bytes
// and a claim larger than that is held as a group instead.
const (
	chunkBits  = 15
	chunkSize  = 1 << chunkBits
	firstChunk = 512 // the first chunk's size; each next one doubles, up to chunkSize
	maxChunks  = 1 << (32 - chunkBits)
)

// maxLabels is how many names a shard's claims can be under (an index is
// a uint8).
const maxLabels = math.MaxUint8 + 1

// label returns s's index in the labels, adding it; false when the
// labels are full.
func (a *claimArena) label(s string) (uint8, bool) {
	for i, l := range a.labels {
		if l == s {
			return uint8(i), true
		}
	}
	if len(a.labels) == maxLabels {
		return 0, false
	}
	a.labels = append(a.labels, strings.Clone(s))
	return uint8(len(a.labels) - 1), true
}

// store copies value into the arena and returns a claim of it under
// name, its digest, expiry and use unset; false when the arena has no
// room or the labels no index for name: the claim is then held as a
// group.
func (a *claimArena) store(name string, value []byte) (claim, bool) {
	n, ok := a.label(name)
	if !ok {
		return claim{}, false
	}
	at, dst, ok := a.reserve(len(value))
	if !ok {
		return claim{}, false
	}
	copy(dst, value)
	return claim{at: at, valLen: uint16(len(value)), name: n}, true
}

// reserve takes n bytes of the arena and returns where they are and a
// slice of them to fill; false when no chunk can hold them. No bytes take
// no chunk.
func (a *claimArena) reserve(n int) (at uint32, dst []byte, ok bool) {
	switch {
	case n == 0:
		return 0, nil, true
	case n > chunkSize:
		return 0, nil, false
	}
	last := len(a.chunks) - 1
	if last < 0 || len(a.chunks[last])+n > cap(a.chunks[last]) {
		if last+1 == maxChunks {
			return 0, nil, false
		}
		size := chunkSize
		if last+1 < chunkBits {
			size = min(firstChunk<<(last+1), chunkSize)
		}
		a.chunks = append(a.chunks, make([]byte, 0, max(size, n)))
		last++
	}
	ch := a.chunks[last]
	from := len(ch)
	a.chunks[last] = ch[:from+n]
	a.used += n
	return uint32(last)<<chunkBits | uint32(from), a.chunks[last][from : from+n], true
}

// value returns c's value, a slice of the arena valid until the next
// compaction.
func (a *claimArena) value(c claim) []byte {
	if c.valLen == 0 {
		return nil
	}
	ch := a.chunks[c.at>>chunkBits]
	from := c.at & (chunkSize - 1)
	to := from + uint32(c.valLen)
	return ch[from:to:to]
}

// compact copies the claims' live bytes into fresh chunks, in claims,
// once the dead bytes outweigh them: the arena then holds at most twice
// the live bytes, and each byte is copied once per compaction, so a claim
// costs a constant number of copies over its life.
func (a *claimArena) compact(claims *claimLog) {
	if a.dead < 4096 || a.dead < a.used-a.dead {
		return
	}
	old := claimArena{chunks: a.chunks}
	a.chunks, a.used, a.dead = nil, 0, 0
	claims.each(func(c *claim) {
		b := old.value(*c)
		at, dst, _ := a.reserve(len(b)) // fits: it did before
		copy(dst, b)
		c.at = at
	})
}
