package state

// table maps 64-bit digests to values by open addressing: the batch's
// indexes key on digests that are already hashes, so a slot is the
// digest's low bits, and finding a key's slot and claiming it when absent
// is one probe sequence. A Go map asked the same costs a lookup and then
// an insert that hashes and probes again, per queued operation.
type table[V any] struct {
	slots []slot[V] // a power of two long, or empty
	n     int       // slots in use
	gen   uint32    // changes whenever a slot's position may change
	// probes counts the slot sequences walked (find and ref calls): the
	// batch's index work, which benchmarks report per event.
	probes int
}

type slot[V any] struct {
	d    uint64
	v    V
	full bool
}

// minTable is the first size of a table: a micro-batch queues hundreds of
// operations on dozens of keys.
const minTable = 64

// find returns the position of d's slot, or -1.
func (t *table[V]) find(d uint64) int {
	t.probes++
	if len(t.slots) == 0 {
		return -1
	}
	mask := uint64(len(t.slots) - 1)
	for i := d & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if !s.full {
			return -1
		}
		if s.d == d {
			return int(i)
		}
	}
}

// ref returns the position of d's slot, claiming an empty one when d has
// none (fresh is then true and the slot holds V's zero value). Positions
// stay valid until gen changes: a claim may grow the table.
func (t *table[V]) ref(d uint64) (pos int, fresh bool) {
	t.probes++
	if (t.n+1)*2 > len(t.slots) {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	for i := d & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if !s.full {
			s.d, s.full = d, true
			t.n++
			return int(i), true
		}
		if s.d == d {
			return int(i), false
		}
	}
}

// grow doubles the table (to minTable at first) and moves every slot.
func (t *table[V]) grow() {
	old := t.slots
	t.slots = make([]slot[V], max(2*len(old), minTable))
	t.gen++
	mask := uint64(len(t.slots) - 1)
	for _, s := range old {
		if !s.full {
			continue
		}
		i := s.d & mask
		for t.slots[i].full {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// reset empties the table and keeps its size.
func (t *table[V]) reset() {
	if t.n > 0 {
		clear(t.slots)
		t.n = 0
	}
	t.gen++
}
