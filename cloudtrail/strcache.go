package cloudtrail

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// stringCache remembers recently made strings so that values repeating
// across records (event sources, regions, account ids, ARNs, user agents)
// are allocated once per pooled decoder instead of once per record. It is
// direct-mapped: a colliding string replaces the older one. The idea is
// encoding/json/v2's (its intern.go); strings are immutable, so sharing
// them is invisible to callers.
//
// Its size is set by a realistic month (internal/realcorpus, 150
// identities): at 256 entries ARNs, access keys, principal ids and
// source IPs of one busy hour evict each other and 3.6 of a record's
// 15 cached strings are made again; at 4096 (64 KiB) 1.2 are, and 0.45
// since the hash reads every byte (see hashBytes).
//
// The strings it makes are written one after another into blocks of
// slabSize bytes rather than allocated one by one: the decoder's memos
// compare the bytes of a record with these strings (decode_memo.go), and
// in a scan, whose store and detectors walk tens of megabytes between
// two records, strings scattered over the heap were a cache miss per
// comparison. Packed, the few thousand values a month repeats share a
// few hundred kilobytes. A block stays alive while any string in it
// does, which bounds what a kept value can hold to slabSize.
type stringCache struct {
	slot [4096]string
	slab []byte // the block new strings are written into
}

// slabSize is the size of the blocks the cache's strings are written in.
const slabSize = 16 << 10

// maxCachedLen keeps long, rarely repeated values out of the cache.
const maxCachedLen = 256

// get returns string(b), from the cache when it holds it.
func (c *stringCache) get(b []byte) string {
	if len(b) < 2 || len(b) > maxCachedLen { // one-byte strings cost nothing
		return string(b)
	}
	i := hashBytes(b) % uint32(len(c.slot))
	if s := c.slot[i]; s == string(b) {
		return s
	}
	if len(c.slab)+len(b) > cap(c.slab) {
		c.slab = make([]byte, 0, slabSize)
	}
	start := len(c.slab)
	c.slab = append(c.slab, b...)
	// The bytes are never written again: the slab only grows past them.
	s := unsafe.String(&c.slab[start], len(b))
	c.slot[i] = s
	return s
}

// hashBytes hashes all of b, eight bytes a step. Hashing only b's ends
// made the values that differ in the middle collide: session ARNs and
// principal ids ("arn:aws:sts::...:assumed-role/Dev/alice@example.com")
// share their first eight bytes and, within one organisation, their last
// eight, so they fought over a few slots and 1.19 strings a record were
// made again over the realistic month; hashing every byte makes it 0.45.
func hashBytes(b []byte) uint32 {
	const k0, k1 = 0x9e3779b97f4a7c15, 0xff51afd7ed558ccd
	n := len(b)
	h := uint64(n) * k0
	// Four words a step, the rest of b resliced so that the loads need
	// no bounds checks: the loop's own instructions and the checks were
	// half of the hash's at one word a step, and three fifths of what
	// the words cost at two (a user agent is some 18 words, the lead of
	// an identity block 12).
	le := binary.LittleEndian
	p := b
	for ; len(p) >= 32; p = p[32:] {
		h = bits.RotateLeft64((h^le.Uint64(p))*k1, 31)
		h = bits.RotateLeft64((h^le.Uint64(p[8:]))*k1, 31)
		h = bits.RotateLeft64((h^le.Uint64(p[16:]))*k1, 31)
		h = bits.RotateLeft64((h^le.Uint64(p[24:]))*k1, 31)
	}
	if len(p) >= 16 {
		h = bits.RotateLeft64((h^le.Uint64(p))*k1, 31)
		h = bits.RotateLeft64((h^le.Uint64(p[8:]))*k1, 31)
		p = p[16:]
	}
	if len(p) >= 8 {
		h = bits.RotateLeft64((h^le.Uint64(p))*k1, 31)
	}
	var tail uint64 // the last bytes, overlapping words already hashed
	switch {
	case n >= 8:
		tail = binary.LittleEndian.Uint64(b[n-8:])
	case n >= 4:
		tail = uint64(binary.LittleEndian.Uint32(b))<<32 | uint64(binary.LittleEndian.Uint32(b[n-4:]))
	default:
		tail = uint64(binary.LittleEndian.Uint16(b))<<16 | uint64(binary.LittleEndian.Uint16(b[n-2:]))
	}
	h = (h ^ tail) * k0
	h = (h ^ h>>33) * k1 // the cache takes low bits: mix the high ones in
	return uint32(h ^ h>>33)
}
