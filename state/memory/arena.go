package memory

import (
	"math"
	"strings"

	"github.com/iamsentry/iamsentry/state"
)

// claimArena holds the bytes of a shard's claims: each claim's identity
// and value, one after the other, in chunks without pointers. A string
// copied apart per claim was an allocation per event and a pointer the
// collector followed at every cycle, for 170k claims on the realistic
// month. Chunks are filled in turn and never grown, so no byte is copied
// as the arena grows (a slice grown by append copied each byte four times
// over); the first chunks are small, so that a store holding a few claims
// holds a few bytes for them. Dropped claims leave their bytes behind as
// dead; compact copies the live ones into fresh chunks once the dead
// outweigh them.
type claimArena struct {
	chunks [][]byte
	used   int // bytes in chunks, dead ones included
	dead   int // bytes of dropped claims still in chunks

	// labels are the tenants and names claims are under, by index: a
	// scorer's claims all have one name and one tenant or a few. It
	// never shrinks; past maxLabels a claim is held as a group instead.
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

// maxLabels is how many tenants and names a shard's claims can be under
// (an index is a uint8).
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

// store copies k's identity and value into the arena and returns a claim
// of them, its expiry and use unset; false when the arena has no room or
// the labels no index for k's tenant or name: the claim is then held as a
// group.
func (a *claimArena) store(k state.Key, value []byte) (claim, bool) {
	tenant, ok := a.label(k.Tenant)
	if !ok {
		return claim{}, false
	}
	name, ok := a.label(k.Name)
	if !ok {
		return claim{}, false
	}
	at, dst, ok := a.reserve(len(k.Identity) + len(value))
	if !ok {
		return claim{}, false
	}
	copy(dst[copy(dst, k.Identity):], value)
	return claim{at: at, idLen: uint32(len(k.Identity)), valLen: uint32(len(value)), tenant: tenant, name: name}, true
}

// reserve takes n bytes of the arena and returns where they are and a
// slice of them to fill; false when no chunk can hold them.
func (a *claimArena) reserve(n int) (at uint32, dst []byte, ok bool) {
	if n > chunkSize {
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

// bytes returns c's identity and value, a slice of the arena valid until
// the next compaction.
func (a *claimArena) bytes(c claim) []byte {
	ch := a.chunks[c.at>>chunkBits]
	from := c.at & (chunkSize - 1)
	to := from + c.idLen + c.valLen
	return ch[from:to:to]
}

// identity returns c's identity, valid until the next compaction.
func (a *claimArena) identity(c claim) []byte { return a.bytes(c)[:c.idLen] }

// value returns c's value, valid until the next compaction.
func (a *claimArena) value(c claim) []byte { return a.bytes(c)[c.idLen:] }

// compact copies the claims' live bytes into fresh chunks, in claims,
// once the dead bytes outweigh them: the arena then holds at most twice
// the live bytes, and each byte is copied once per compaction, so a claim
// costs a constant number of copies over its life.
func (a *claimArena) compact(claims map[uint64]claim) {
	if a.dead < 4096 || a.dead < a.used-a.dead {
		return
	}
	old := claimArena{chunks: a.chunks}
	a.chunks, a.used, a.dead = nil, 0, 0
	for h, c := range claims {
		b := old.bytes(c)
		at, dst, _ := a.reserve(len(b)) // fits: it did before
		copy(dst, b)
		c.at = at
		claims[h] = c
	}
}
