package detectors

import (
	"sync"

	"github.com/iamsentry/iamsentry/state"
)

// batchIndex is a per-batch scratch: for each key, where the operations
// queued on it lie in the batch. It is built from the batch's own queued
// operations, incrementally as they are queued, and holds nothing else, so
// it remembers nothing about any identity beyond the batch.
//
// A Detector sees one event at a time, so the index is found again by the
// batch's address in a small cache shared by all detectors. A cached index
// is used only while it still describes the batch: the operation it last
// indexed is the one at that position in the batch (operations are
// allocated as they are queued, and the cache keeps the ones it refers to
// alive, so a batch that was reset and filled again never matches). A batch
// evicted by more concurrent batches than the cache holds is indexed again
// from its start.
type batchIndex struct {
	batch *state.Batch
	seen  int      // operations indexed: b.Ops()[:seen]
	tail  state.Op // b.Ops()[seen-1] when seen > 0
	last  map[state.Key]int32
	prev  []int32 // prev[i]: the previous operation on the key of operation i, or -1
}

// indexSlots is how many batches' indexes the cache keeps: more than the
// batches a process scores at once.
const indexSlots = 8

var indexes struct {
	sync.Mutex
	slots [indexSlots]*batchIndex
	next  int
}

// indexOf returns b's index, brought up to date with what b holds, or nil
// when b holds an operation kind the index does not know.
func indexOf(b *state.Batch) *batchIndex {
	ops := b.Ops()
	indexes.Lock()
	var x *batchIndex
	for _, s := range indexes.slots {
		if s != nil && s.batch == b {
			x = s
			break
		}
	}
	if x == nil || x.seen > len(ops) || (x.seen > 0 && ops[x.seen-1] != x.tail) {
		x = &batchIndex{batch: b, last: make(map[state.Key]int32, 1024)}
		replaced := false
		for i, s := range indexes.slots {
			if s != nil && s.batch == b {
				indexes.slots[i], replaced = x, true
				break
			}
		}
		if !replaced {
			indexes.slots[indexes.next] = x
			indexes.next = (indexes.next + 1) % indexSlots
		}
	}
	indexes.Unlock()
	for i := x.seen; i < len(ops); i++ {
		k, _, ok := opKey(ops[i])
		if !ok {
			return nil
		}
		p, had := x.last[k]
		if !had {
			p = -1
		}
		x.prev = append(x.prev, p)
		x.last[k] = int32(i)
		x.seen, x.tail = i+1, ops[i]
	}
	return x
}
