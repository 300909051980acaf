package engine

import "hash/maphash"

// owners indexes a batch's records by owner (detectors.Event.Owner), to
// find a record repeated within the batch. It is an open-addressing
// table of hashes and item positions, where a map by owner looked each
// record up and then inserted it, hashing its owner twice, and was
// cleared slot by slot: the map was a twelfth of the engine's and the
// state batch's own instructions in the realistic month's scan. Its
// slots hold no pointer, so clearing them is a memclr the collector
// never scans.
type owners struct {
	slots []ownerSlot // a power of two long, at least twice the records
}

type ownerSlot struct {
	hash uint64
	item int32 // position of the record's item in the batch, plus one; 0: free
	at   int32 // the record's index in the batch
}

// ownersSeed keys the owners' hashes: an owner is the sender's to choose
// (the event id), and a hash they cannot predict keeps a batch of
// crafted ids from sharing one probe sequence.
var ownersSeed = maphash.MakeSeed()

// reset readies o for a batch of n records: the first slots it needs,
// cleared. A table grown by a burst keeps its storage, but a small batch
// after it clears only the slots it uses, not the burst's.
func (o *owners) reset(n int) {
	size := 16
	for size < 2*n {
		size *= 2
	}
	if cap(o.slots) < size {
		o.slots = make([]ownerSlot, size)
		return
	}
	o.slots = o.slots[:size]
	clear(o.slots)
}

// held is how many records o holds.
func (o *owners) held() int {
	n := 0
	for _, s := range o.slots {
		if s.item != 0 {
			n++
		}
	}
	return n
}

// first returns the index in the batch of the first record of owner,
// the one at index at (its item at position item of items) when it is
// the first: it is recorded then. Records are compared by owner, not by
// hash.
func (o *owners) first(owner string, item, at int, items []item) int {
	h := maphash.String(ownersSeed, owner)
	mask := uint64(len(o.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &o.slots[i]
		if s.item == 0 {
			*s = ownerSlot{hash: h, item: int32(item + 1), at: int32(at)}
			return at
		}
		if s.hash == h && items[s.item-1].owner == owner {
			return int(s.at)
		}
	}
}
