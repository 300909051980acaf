package record

import "encoding/binary"

// Deltas (formatLogOps): in a log segment, an inline window, novelty set
// or buckets entry the stored record already holds may be written as the
// operations applied to it since (its journal, as a large entry's side
// record takes them: see sidelog.go) instead of as the entry. An
// identity's enumeration or recon window of hundreds of members, changed
// by every batch, then costs the batch the members it added, not the
// window, and the record is rewritten whole (compactAt) less often.
//
// A delta is the entry's 8-byte name digest, its kind with deltaFlag set,
// its expiry (Unix ms, rounded up), the count of operations, then the
// operations. Decoding replays it on the copy of the entry read before it
// in the record, which must be there, of that kind, and not a stub.
//
// Upgrade rule: Decode reads formats 1 to 7; a log-format record becomes
// format 7 with the first segment holding a delta (the store sets the
// format byte with the version: Write.Format), and a whole rewrite makes
// it format 5 again. A replica that reads only 1 to 6 fails (ErrCorrupt)
// on a format 7 record, so every replica must run a version that reads
// it before any writes it; rolling back past it means starting the record
// layout from empty state, as for formats 5 and 6.

// deltaFlag marks the kind byte of a delta.
const deltaFlag = 0x40

// deltable reports whether e, dirty, is to be written in a log segment as
// a delta: the stored record holds a copy its journal applies to, it is
// inline, of a kind whose writes are journaled, the delta is shorter than
// its last encoding, and it stays within SideThreshold. e.size grows by
// each delta's operations, which add no fewer bytes than they add to the
// entry's encoding (trims, which remove some, are not counted): once that
// bound passes SideThreshold the entry is measured, and one that has
// passed it is written whole, moving to a side record.
func (e *entry) deltable() bool {
	if !e.based || e.whole || e.side || e.stub || !e.dirty {
		return false
	}
	switch e.kind {
	case kindWindow, kindNovelty, kindBuckets:
	default:
		return false
	}
	if e.size+len(e.journal) > SideThreshold {
		n := len(e.encode(nil))
		if n > SideThreshold {
			return false
		}
		e.size = max(n-len(e.journal), 0) // appendDelta adds the journal
	}
	return e.deltaLen() < e.size+len(e.journal)
}

// deltaLen is the length of e's delta.
func (e *entry) deltaLen() int { return 8 + 1 + e.segmentLen() }

// appendDelta appends e's delta to b, empties its journal and marks it
// clean. Its last encoding no longer holds what it holds: a whole write
// encodes it again.
func (e *entry) appendDelta(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, e.name)
	b = append(b, byte(e.kind)|deltaFlag)
	b = binary.AppendUvarint(b, uint64((e.expires+999_999)/1_000_000))
	b = binary.AppendUvarint(b, uint64(e.journalN))
	b = append(b, e.journal...)
	e.size += len(e.journal)
	e.journal, e.journalN = e.journal[:0], 0
	e.dirty, e.enc = false, nil
	return b
}

// delta decodes a delta at the decoder's offset, if there is one, and
// replays it on r's copy of its entry. It reports whether it read one
// (or failed to): otherwise the offset is unchanged.
func (d *decoder) delta(r *Record) bool {
	if d.err != nil || d.off+9 > len(d.b) || d.b[d.off+8]&deltaFlag == 0 || d.b[d.off+8]&sideFlag != 0 {
		return false
	}
	if !d.deltas {
		d.fail("a delta outside format %d", formatLogOps)
		return true
	}
	start := d.off
	name := d.u64()
	kind := Kind(d.byte() &^ deltaFlag)
	j := r.find(name)
	if j < 0 {
		d.fail("a delta of an entry not held")
		return true
	}
	e := r.entries[j]
	if e.kind != kind || e.stub {
		d.fail("a delta of a %s on a %s", kind, e.kind)
		return true
	}
	d.replay(e)
	e.enc, e.size = nil, e.size+d.off-start // an upper bound, as the writer's (deltable)
	return true
}

// dropExpired removes the entries expired at now: a log-format record
// keeps them while its segments are read, since a later delta may refresh
// one.
func (r *Record) dropExpired(now int64) {
	kept := r.entries[:0]
	for _, e := range r.entries {
		if e.kind != 0 && e.expires > now {
			kept = append(kept, e)
		}
	}
	if len(kept) == len(r.entries) {
		return
	}
	clear(r.entries[len(kept):])
	r.entries, r.index = kept, nil
	if len(kept) > manyEntries {
		r.index = make(map[uint64]int, 2*len(kept))
		for i, e := range kept {
			r.index[e.name] = i
		}
	}
}
