package builtin

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
)

// stringMemo remembers a pure function of a string field (a user agent's
// tool) for the few distinct values real traffic repeats, so that a
// classification scanning many needles runs once per distinct value
// rather than once per record. It holds no identity state: what it
// returns is what f returns, whatever it holds.
//
// It is bounded (memoSlots entries, each key at most memoMaxKey bytes),
// direct-mapped (a colliding value replaces the entry), and safe for
// concurrent use without locks: an entry is immutable once stored.
type stringMemo[V any] struct {
	f     func(string) V
	seed  maphash.Seed
	slots [memoSlots]atomic.Pointer[memoEntry[V]]
}

const (
	memoSlots  = 1024 // a power of two
	memoMaxKey = 512  // longer values are computed, not remembered
)

type memoEntry[V any] struct {
	key string
	val V
}

func newStringMemo[V any](f func(string) V) *stringMemo[V] {
	return &stringMemo[V]{f: f, seed: maphash.MakeSeed()}
}

// get returns f(s).
func (m *stringMemo[V]) get(s string) V {
	if len(s) > memoMaxKey {
		return m.f(s)
	}
	slot := &m.slots[maphash.String(m.seed, s)&(memoSlots-1)]
	if e := slot.Load(); e != nil && e.key == s {
		return e.val
	}
	v := m.f(s)
	// Clone: s may share the bytes of a whole batch's records.
	slot.Store(&memoEntry[V]{key: strings.Clone(s), val: v})
	return v
}
