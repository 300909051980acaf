package memory

import (
	"github.com/iamsentry/iamsentry/state"
)

// scratch is what one Exec call keeps while it runs its operations: the
// identities it met last and the chunks its answers are cut from. It
// belongs to the goroutine of that call alone, so it needs no lock, and it
// is dropped when the call returns.
type scratch struct {
	// ids are the identities of the last operations, most recent first,
	// with their hashKey and group: a detector queues its operations on
	// one identity together, the next detector often works on the same
	// one, and an event's operations alternate between a few (its
	// claim's, its principal's, its access key's), so comparing the
	// strings (the same ones, as often as not) spares hashing them, and
	// the group found for one spares finding it again. cur is the
	// current operation's.
	ids [recentIdentities]known
	cur *known

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

// known is an identity an Exec call met: its hashKey and, once an
// operation found it, its group. A group is only remembered while it
// lives: drop unlinks it from the recency list (see alive).
type known struct {
	tenant, identity string
	hash             uint64
	group            *group
	set              bool
}

// recentIdentities is how many identities an Exec call remembers.
const recentIdentities = 4

// hash returns hashKey(k) and makes k's identity the current one,
// remembering it for the next operations.
func (x *scratch) hash(k state.Key) uint64 {
	for i := range x.ids {
		c := &x.ids[i]
		if !c.set {
			break // slots fill from the front
		}
		if same(c.identity, k.Identity) && c.tenant == k.Tenant {
			if i > 0 {
				hit := *c
				copy(x.ids[1:i+1], x.ids[:i])
				x.ids[0] = hit
			}
			x.cur = &x.ids[0]
			return x.ids[0].hash
		}
	}
	copy(x.ids[1:], x.ids[:len(x.ids)-1])
	x.ids[0] = known{tenant: k.Tenant, identity: k.Identity, hash: hashKey(k), set: true}
	x.cur = &x.ids[0]
	return x.cur.hash
}

// group returns the group found for the current identity, if it still
// lives; nil otherwise. x may be nil (tests look groups up without it).
func (x *scratch) group() *group {
	if x == nil || x.cur == nil {
		return nil
	}
	if g := x.cur.group; g != nil && g.alive() {
		return g
	}
	return nil
}

// found remembers g as the current identity's group.
func (x *scratch) found(g *group) {
	if x != nil && x.cur != nil {
		x.cur.group = g
	}
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
