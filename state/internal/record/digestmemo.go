package record

import (
	"hash/maphash"
	"strings"
	"sync/atomic"

	"github.com/iamsentry/iamsentry/state"
)

// The names of a record's entries and the members of its novelty sets
// recur from batch to batch: in the realistic month 2,608 names make 88 %
// of the 1.59M names a Redis store digests (loc:country, enum:grid:…,
// recon:grid:…, keys), and novelty members are countries, ASNs and
// networks. At small batches every batch digested each of them again
// with SHA-256 (Names, noveltyAdd): 5 % of the server's CPU at 20k
// events/s on Redis. memoDigest remembers the digests of the last names
// seen, process-wide, since the same names recur for every identity.
//
// Why a hit is always right: Digest is a pure function of the string, and
// a slot holds a copy of the whole string it was digested from (never the
// caller's, which may point into a buffer reused later) next to its
// digest; a hit compares the whole string. Two strings landing on one
// slot only evict each other. A slot is replaced, never changed: readers
// load an immutable digestMemo through an atomic pointer, so concurrent
// batches need no lock. TestMemoDigestIsDigest pins it.

// memoSlots is the table's size: a power of two well above the names
// that recur (2,608 in the month), 64 KiB of pointers.
const memoSlots = 1 << 13

// memoMaxLen bounds the names kept: longer ones (a member the size of a
// user agent) are digested each time rather than copied.
const memoMaxLen = 128

type digestMemo struct {
	s string
	d uint64
}

var (
	memoSeed  = maphash.MakeSeed()
	memoTable [memoSlots]atomic.Pointer[digestMemo]
)

// memoDigest returns Digest(s), from the memo when s was digested lately.
// Only names that recur belong here: a name seen once (an event's dedupe
// claim) would cost a copy and evict one that recurs.
func memoDigest(s string) uint64 {
	if len(s) > memoMaxLen {
		return Digest(s)
	}
	slot := &memoTable[maphash.String(memoSeed, s)&(memoSlots-1)]
	if m := slot.Load(); m != nil && m.s == s {
		return m.d
	}
	d := Digest(s)
	slot.Store(&digestMemo{s: strings.Clone(s), d: d})
	return d
}

// nameDigest returns the digest of op's key name. A claim's name is an
// event's own (its dedupe key), seen once, so it is not memoised.
func nameDigest(op state.Op) uint64 {
	if c, ok := op.(*state.ClaimOp); ok {
		return Digest(c.Key.Name)
	}
	return memoDigest(op.Target().Name)
}
