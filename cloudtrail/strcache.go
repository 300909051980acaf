package cloudtrail

import (
	"encoding/binary"
	"math/bits"
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
// 15 cached strings are made again; at 4096 (64 KiB) 1.2 are.
type stringCache [4096]string

// maxCachedLen keeps long, rarely repeated values out of the cache.
const maxCachedLen = 256

// get returns string(b), from the cache when it holds it.
func (c *stringCache) get(b []byte) string {
	if len(b) < 2 || len(b) > maxCachedLen { // one-byte strings cost nothing
		return string(b)
	}
	i := hashEnds(b) % uint32(len(c))
	if s := c[i]; s == string(b) {
		return s
	}
	s := string(b)
	c[i] = s
	return s
}

// hashEnds hashes b's length and its first and last bytes (up to eight
// each), so hashing costs the same whatever b's length.
func hashEnds(b []byte) uint32 {
	var lo, hi uint64
	switch {
	case len(b) >= 8:
		lo, hi = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[len(b)-8:])
	case len(b) >= 4:
		lo, hi = uint64(binary.LittleEndian.Uint32(b)), uint64(binary.LittleEndian.Uint32(b[len(b)-4:]))
	default:
		lo, hi = uint64(binary.LittleEndian.Uint16(b)), uint64(binary.LittleEndian.Uint16(b[len(b)-2:]))
	}
	h := (lo ^ bits.RotateLeft64(hi, 31) ^ uint64(len(b))) * 0x9e3779b97f4a7c15
	return uint32(h >> 32)
}
