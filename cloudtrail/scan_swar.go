package cloudtrail

import (
	"encoding/binary"
	"math/bits"
)

// Strings are most of a CloudTrail record's bytes (keys, ARNs, user
// agents, ids), and both the Reader and the parser scan every one of
// them, so the scanners step over a string's plain bytes eight at a time
// with word arithmetic ("SWAR") rather than a table lookup per byte.
//
// For a word x of eight bytes, x - 0x0101..01*n sets a byte's high bit
// when that byte is below n, and &^ x drops the bytes whose own high bit
// was set. A borrow only crosses into higher bytes from a byte that is
// itself flagged, so the lowest flagged byte is always exact: it is the
// first byte that stops the run.
const (
	swarLow  = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

// stopMask flags the bytes of x that end a run of plain string bytes
// (see plain): control characters, '"' and '\\'. Only its lowest flag is
// exact.
func stopMask(x uint64) uint64 {
	quote := x ^ (swarLow * '"')
	slash := x ^ (swarLow * '\\')
	return ((x - swarLow*0x20) | (quote - swarLow) | (slash - swarLow)) &^ x & swarHigh
}

// simdBlock is the fewest bytes the vector runs (simdRuns,
// plainRunAVX2, asciiRunAVX2) read: one block of 32. Nearly every string
// the scanners meet has that many bytes after its start, as they scan
// the input read so far, not the string alone; the few others, and every
// string where simdRuns is false, go eight bytes a step here.
const simdBlock = 32

// plainRun returns the index of the first byte at or after i that is not
// plain (see plain), or len(b).
func plainRun(b []byte, i int) int {
	// The rest of b is resliced as the loop goes, so that its loads need
	// no bounds checks: indexing b took a third of the loop's
	// instructions.
	if i < len(b) {
		p := b[i:]
		for ; len(p) >= 8; p = p[8:] {
			if m := stopMask(binary.LittleEndian.Uint64(p)); m != 0 {
				return len(b) - len(p) + bits.TrailingZeros64(m)>>3
			}
		}
		i = len(b) - len(p)
	}
	for i < len(b) && plain[b[i]] {
		i++
	}
	return i
}

// asciiRun is plainRun for plainASCII: it also stops at bytes of 0x80
// and above.
func asciiRun(b []byte, i int) int {
	if i < len(b) {
		p := b[i:]
		for ; len(p) >= 8; p = p[8:] {
			x := binary.LittleEndian.Uint64(p)
			if m := stopMask(x) | x&swarHigh; m != 0 {
				return len(b) - len(p) + bits.TrailingZeros64(m)>>3
			}
		}
		i = len(b) - len(p)
	}
	for i < len(b) && plainASCII[b[i]] {
		i++
	}
	return i
}
