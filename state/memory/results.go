package memory

// results hands out the slices operations answer with (a window's members,
// a bucket history) from a few shared chunks per Exec rather than one
// allocation each: a micro-batch of the realistic month reads a window
// sample for most of its events, and those small slices were a tenth of
// the store's allocations. Each slice is capped at its own length, so a
// caller appending to one copies it and never writes into its neighbour's.
// A results belongs to one Exec call, whose goroutine alone uses it.
type results struct {
	strs []string
	ints []int
}

// resultChunk is how many elements a fresh chunk holds: enough for the
// window samples of a few dozen operations, small enough that a finding
// keeping one sample pins little.
const resultChunk = 256

// strings returns a zeroed slice of n strings, empty but not nil for none.
func (r *results) strings(n int) []string {
	if n == 0 {
		return []string{}
	}
	if n > len(r.strs) {
		if n > resultChunk/4 {
			return make([]string, n)
		}
		r.strs = make([]string, resultChunk)
	}
	out := r.strs[:n:n]
	r.strs = r.strs[n:]
	return out
}

// counts returns a zeroed slice of n ints, empty but not nil for none.
func (r *results) counts(n int) []int {
	if n == 0 {
		return []int{}
	}
	if n > len(r.ints) {
		if n > resultChunk/4 {
			return make([]int, n)
		}
		r.ints = make([]int, resultChunk)
	}
	out := r.ints[:n:n]
	r.ints = r.ints[n:]
	return out
}
