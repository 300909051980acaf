package state

// table maps 64-bit digests to values by open addressing: the batch's
// indexes key on digests that are already hashes, so a slot is the
// digest's low bits, and finding a key's slot and claiming it when absent
// is one probe sequence. A Go map asked the same costs a lookup and then
// an insert that hashes and probes again, per queued operation.
//
// A slot is free while its digest is 0; the digest 0 is taken as 1 (see
// slotDigest), so that a slot of the chain index is 16 bytes rather than
// 24 with a flag of its own: the index of a micro-batch of 512 records
// spans some 2,000 slots, looked up at random, and a third less of them
// to hold in cache counted more than the instruction the flag saves.
type table[V any] struct {
	slots []slot[V] // a power of two long, or empty
	n     int       // slots in use
	gen   uint32    // changes whenever a slot's position may change
	// probes counts the slot sequences walked (find and ref calls): the
	// batch's index work, which benchmarks report per event.
	probes int
}

type slot[V any] struct {
	d uint64 // the digest (see slotDigest); 0: free
	v V
}

// slotDigest is the digest a table files d under: d, but 1 for 0, which
// marks a free slot. Digests 0 and 1 then share a slot as two colliding
// digests would, which the batch's indexes allow for: they compare what
// they find with what they look for.
func slotDigest(d uint64) uint64 {
	if d == 0 {
		return 1
	}
	return d
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
	d = slotDigest(d)
	mask := uint64(len(t.slots) - 1)
	for i := d & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.d == d {
			return int(i)
		}
		if s.d == 0 {
			return -1
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
	d = slotDigest(d)
	mask := uint64(len(t.slots) - 1)
	for i := d & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.d == d {
			return int(i), false
		}
		if s.d == 0 {
			s.d = d
			t.n++
			return int(i), true
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
		if s.d == 0 {
			continue
		}
		i := s.d & mask
		for t.slots[i].d != 0 {
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
