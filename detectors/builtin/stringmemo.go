package builtin

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
	"unsafe"
)

// stringMemo remembers a pure function of a string field (a user agent's
// tool) for the few distinct values real traffic repeats, so that a
// classification scanning many needles runs once per distinct value
// rather than once per record. It holds no identity state: what it
// returns is what f returns, whatever it holds.
//
// It is bounded (memoSlots entries, each key at most memoMaxKey bytes),
// two-way set-associative (a value may sit in its slot or its slot's
// twin; a value colliding with both replaces one), and safe for concurrent
// use without locks: an entry is immutable once stored. Direct-mapped, two
// of the month's 14 user agents shared a slot and evicted each other
// record after record: 2,249 scans for needles where 14 would do.
type stringMemo[V any] struct {
	f     func(string) V
	seed  maphash.Seed
	slots [memoSlots]atomic.Pointer[memoEntry[V]]
	// byAddr finds an entry by the address of the bytes of the string it
	// was last asked with (see get).
	byAddr [memoSlots]atomic.Pointer[memoEntry[V]]
}

const (
	memoSlotBits = 10
	memoSlots    = 1 << memoSlotBits
	memoMaxKey   = 512 // longer values are computed, not remembered
)

type memoEntry[V any] struct {
	key string
	val V
	// at is the address of the bytes of the string the entry was last
	// found for: a hint, never trusted without comparing key (see get).
	at atomic.Uintptr
}

func newStringMemo[V any](f func(string) V) *stringMemo[V] {
	return &stringMemo[V]{f: f, seed: maphash.MakeSeed()}
}

// get returns f(s).
//
// The strings a scan asks with are mostly the very strings of the
// Reader's string cache (cloudtrail's stringCache): a user agent, an ARN,
// made once and handed out record after record. So get first looks in
// byAddr, by the address of s's bytes, for the entry last found with
// them: over the realistic month 99 % of the asks of the memos of user
// agents and ARNs came with the address of the ask before, and hashing
// every byte of a user agent (maphash, some 100 instructions) cost more
// than the rest of a hit. An address is only a hint: the bytes it held
// may have been collected and the address reused for other ones, so a
// hit there still compares s with the entry's key (its own clone), and
// the answer is f(s) whatever the address held.
func (m *stringMemo[V]) get(s string) V {
	if len(s) > memoMaxKey {
		return m.f(s)
	}
	at := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	near := &m.byAddr[addrSlot(at)]
	if e := near.Load(); e != nil && e.at.Load() == at && e.key == s {
		return e.val
	}
	i := maphash.String(m.seed, s) & (memoSlots - 1)
	slot, twin := &m.slots[i], &m.slots[i^1]
	e := slot.Load()
	if e != nil && e.key == s {
		return m.found(e, at, near)
	}
	e2 := twin.Load()
	if e2 != nil && e2.key == s {
		return m.found(e2, at, near)
	}
	v := m.f(s)
	if e != nil && e2 == nil {
		slot = twin
	}
	// Clone: s may share the bytes of a whole batch's records.
	n := &memoEntry[V]{key: strings.Clone(s), val: v}
	n.at.Store(at)
	slot.Store(n)
	near.Store(n)
	return v
}

// found files e, found by its contents for a string whose bytes are at
// at, under that address, and returns its value.
func (m *stringMemo[V]) found(e *memoEntry[V], at uintptr, near *atomic.Pointer[memoEntry[V]]) V {
	e.at.Store(at)
	near.Store(e)
	return e.val
}

// addrSlot is the byAddr slot of the address at: its bits above the
// allocator's 8-byte alignment, mixed by a multiplication, top bits.
func addrSlot(at uintptr) uint64 {
	return (uint64(at) >> 3 * 0x9E3779B97F4A7C15) >> (64 - memoSlotBits)
}
