package memory

import (
	"unsafe"

	"github.com/iamsentry/iamsentry/state"
)

// scratch is what one Exec call keeps while it runs its operations: the
// last identity it hashed and the chunks its answers are cut from. It belongs to
// the goroutine of that call alone, so it needs no lock, and it is
// dropped when the call returns.
type scratch struct {
	// last is the identity of the previous operation and its hashKey:
	// a detector queues its operations on one identity together, and
	// the next detector often works on the same one, so comparing the
	// strings (the same ones, as often as not) spares hashing them.
	last lastIdentity

	// strs and ints are what the next window samples and bucket
	// histories are cut from (see strings and counts).
	strs []string
	ints []int
	// chunk is the size of the last chunk made; the first is
	// firstResultChunk and each next one twice the last up to
	// resultChunk, so a call of a few operations (a batch of one event)
	// does not zero kilobytes it never uses.
	chunk int
}

// lastIdentity is the identity of an Exec's previous operation and its
// hashKey.
type lastIdentity struct {
	tenant, identity string
	hash             uint64
	set              bool
}

// rehash returns hashKey(k), remembering it for the next operation, and
// whether k's identity is the previous operation's. hold calls it when
// k's identity is not the very strings of the last one (see
// lastIdentity.is), which it tests itself, sparing a call for half
// the operations of a scan. Other strings may still hold the same bytes.
func (x *scratch) rehash(k *state.Key) (h uint64, again bool) {
	l := &x.last
	if l.set && same(l.identity, k.Identity) && same(l.tenant, k.Tenant) {
		return l.hash, true
	}
	l.tenant, l.identity, l.hash, l.set = k.Tenant, k.Identity, hashWith(seed, k), true
	return l.hash, false
}

// is reports whether k's tenant and identity are the very strings of
// the last identity: what an event's operations on one identity pass.
func (l *lastIdentity) is(k *state.Key) bool {
	return l.set && sameString(l.identity, k.Identity) && sameString(l.tenant, k.Tenant)
}

// sameString reports whether a and b are the very same string: the
// same bytes at the same address.
func sameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// resultChunk is how many elements a fresh chunk of answers holds: enough
// for the window samples of a few dozen operations, small enough that a
// finding keeping one sample pins little. A window sample or a bucket
// history was one allocation per operation, a tenth of the store's.
// Each slice handed out is capped at its own length, so a caller
// appending to one copies it and never writes into its neighbour's.
const resultChunk = 256

// firstResultChunk is the size of the first chunk of answers of an Exec.
const firstResultChunk = 16

// next returns the size of the next chunk of answers, which holds at least n.
func (x *scratch) next(n int) int {
	x.chunk = max(firstResultChunk, min(2*x.chunk, resultChunk), n)
	return x.chunk
}

// strings returns a zeroed slice of n strings, empty but not nil for none.
func (x *scratch) strings(n int) []string {
	if n == 0 {
		return []string{}
	}
	if n > len(x.strs) {
		if n > resultChunk/4 {
			return make([]string, n)
		}
		x.strs = make([]string, x.next(n))
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
		x.ints = make([]int, x.next(n))
	}
	out := x.ints[:n:n]
	x.ints = x.ints[n:]
	return out
}
