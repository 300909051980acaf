package memory

import (
	"unique"

	"github.com/iamsentry/iamsentry/state"
)

// scratch is what one Exec call keeps while it runs its operations: the
// names it interned and the chunks its answers are cut from. It belongs to
// the goroutine of that call alone, so it needs no lock, and it is
// dropped when the call returns.
type scratch struct {
	// names caches the handles of the names interned in this Exec,
	// direct mapped by a hash of a few bytes of the name (see nameSlot).
	// The realistic month uses 61k distinct names (a name per time window
	// or per target), each identity its own; spread over the shards, a
	// cache per shard missed on most new entries, each miss a
	// unique.Make, while in one micro-batch many identities share them.
	names [nameSlots]unique.Handle[string]

	// last is the identity of the previous operation and its hashKey:
	// a detector queues its operations on one identity together, and
	// the next detector often works on the same one, so comparing the
	// strings (the same ones, as often as not) spares hashing them.
	last struct {
		tenant, identity string
		hash             uint64
		set              bool
	}

	// strs and ints are what the next window samples and bucket
	// histories are cut from (see strings and counts).
	strs []string
	ints []int
}

// hash returns hashKey(k), remembering it for the next operation.
func (x *scratch) hash(k state.Key) uint64 {
	l := &x.last
	if l.set && l.identity == k.Identity && l.tenant == k.Tenant {
		return l.hash
	}
	l.tenant, l.identity, l.hash, l.set = k.Tenant, k.Identity, hashKey(k), true
	return l.hash
}

// nameSlots is the size of an Exec's cache of interned names: a power of
// two, so a hash picks a slot with a mask.
const nameSlots = 128

// nameSlot picks name's slot from its length and three of its bytes: far
// cheaper than hashing it whole, and names differ there (their length,
// their end, where a time or a target goes).
func nameSlot(name string) int {
	n := len(name)
	if n == 0 {
		return 0
	}
	h := uint(n)*31 + uint(name[n-1])
	h = h*31 + uint(name[n/2])
	h = h*31 + uint(name[n*3/4])
	return int(h & (nameSlots - 1))
}

// intern returns the interned handle of an entry's name, from the cache
// when it is there: unique.Make costs more than comparing a string.
func (x *scratch) intern(name string) unique.Handle[string] {
	slot := &x.names[nameSlot(name)]
	if *slot != (unique.Handle[string]{}) && slot.Value() == name {
		return *slot
	}
	*slot = unique.Make(name)
	return *slot
}

// resultChunk is how many elements a fresh chunk of answers holds: enough
// for the window samples of a few dozen operations, small enough that a
// finding keeping one sample pins little. A window sample or a bucket
// history was one allocation per operation, a tenth of the store's.
// Each slice handed out is capped at its own length, so a caller
// appending to one copies it and never writes into its neighbour's.
const resultChunk = 256

// strings returns a zeroed slice of n strings, empty but not nil for none.
func (x *scratch) strings(n int) []string {
	if n == 0 {
		return []string{}
	}
	if n > len(x.strs) {
		if n > resultChunk/4 {
			return make([]string, n)
		}
		x.strs = make([]string, resultChunk)
	}
	out := x.strs[:n:n]
	x.strs = x.strs[n:]
	return out
}

// counts returns a zeroed slice of n ints, empty but not nil for none.
func (x *scratch) counts(n int) []int {
	if n == 0 {
		return []int{}
	}
	if n > len(x.ints) {
		if n > resultChunk/4 {
			return make([]int, n)
		}
		x.ints = make([]int, resultChunk)
	}
	out := x.ints[:n:n]
	x.ints = x.ints[n:]
	return out
}
