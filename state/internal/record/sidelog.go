package record

import "encoding/binary"

// The side log format (formatSideLog): a large entry's side record is its
// entry, laid out as in formatV (a count of 1, then the entry), followed by
// segments appended by later writes, each the entry's expiry and the
// operations one write applied to it, in order: a window member added or
// moved later, a novelty member seen, an introduction made, a bucket member
// added, or a cut-off below which members are dropped. Decoding replays
// them on the entry, and each is a deterministic function of the entry it
// applies to, so the replay gives the entry the writer held.
//
// So a batch that adds one member to an organisation-wide novelty set or
// window of thousands sends that member (tens of bytes, APPENDed by the
// version-checked script, which also checks that the side record still
// exists) instead of rewriting the side record whole: a write costs
// O(member), not O(set). The side record's key and version do not change
// on an append: only a record whose version check passed appends, so a
// replica that reads the side record after its record sees the operations
// that record's writes made, and one that read an older record fails its
// version check and reads both again. A write rewrites the side record
// whole, under a new version, once its stored bytes would pass the bytes of
// its last whole write by a compactAt-th of them, or when the entry was
// replaced (a put, another kind, an expiry).
//
// Upgrade rule: Decode reads formats 1 to 6; Encode writes large entries'
// side records in format 6 since this layout. A replica that reads only 1
// to 5 fails (ErrCorrupt) on a side record written in format 6, so every
// replica must run a version that reads format 6 before any writes it;
// rolling back past it means starting the record layout from empty state
// (FLUSH the prefix), as for format 5. Side records of format 3 still
// attach, and are rewritten in format 6 by their entry's next write.

// Operations of a side log segment: a tag byte, then its arguments.
const (
	opWindowAdd   = 1 + iota // time (ns, zig-zag), length, member
	opWindowTrim             // cut-off (ns, zig-zag)
	opNoveltySeen            // 8-byte member digest, time (ns, zig-zag)
	opNoveltyTrim            // cut-off
	opIntrosTrim             // cut-off (wall clock)
	opIntro                  // member and owner digests, when (ns, zig-zag)
	opBucketAdd              // bucket start (ns, zig-zag), 6-byte member digest
	opBucketTrim             // cut-off, bucket width
)

// journaling reports whether e's writes are to be noted in its journal: it
// lives in a side record in the side log format that is not to be
// rewritten whole anyway.
func (e *entry) journaling() bool { return (e.sideLog || e.based) && !e.whole }

func (e *entry) noteWindowAdd(member string, at int64) {
	if e.journaling() {
		e.journal = append(e.journal, opWindowAdd)
		e.journal = binary.AppendVarint(e.journal, at)
		e.journal = binary.AppendUvarint(e.journal, uint64(len(member)))
		e.journal = append(e.journal, member...)
		e.journalN++
	}
}

// noteCutoff notes a trim (opWindowTrim, opNoveltyTrim, opIntrosTrim).
func (e *entry) noteCutoff(op byte, cutoff int64) {
	if e.journaling() {
		e.journal = binary.AppendVarint(append(e.journal, op), cutoff)
		e.journalN++
	}
}

func (e *entry) noteSeen(member uint64, at int64) {
	if e.journaling() {
		e.journal = binary.BigEndian.AppendUint64(append(e.journal, opNoveltySeen), member)
		e.journal = binary.AppendVarint(e.journal, at)
		e.journalN++
	}
}

func (e *entry) noteIntro(in intro) {
	if e.journaling() {
		e.journal = binary.BigEndian.AppendUint64(append(e.journal, opIntro), in.member)
		e.journal = binary.BigEndian.AppendUint64(e.journal, in.owner)
		e.journal = binary.AppendVarint(e.journal, in.when)
		e.journalN++
	}
}

func (e *entry) noteBucketAdd(start int64, d [bucketDigest]byte) {
	if e.journaling() {
		e.journal = binary.AppendVarint(append(e.journal, opBucketAdd), start)
		e.journal = append(e.journal, d[:]...)
		e.journalN++
	}
}

func (e *entry) noteBucketTrim(cutoff, w int64) {
	if e.journaling() {
		e.journal = binary.AppendVarint(append(e.journal, opBucketTrim), cutoff)
		e.journal = binary.AppendVarint(e.journal, w)
		e.journalN++
	}
}

// segmentLen is the length of the segment e's journal makes (see segment).
func (e *entry) segmentLen() int {
	return uvarintLen(uint64((e.expires+999_999)/1_000_000)) + uvarintLen(uint64(e.journalN)) + len(e.journal)
}

// appendable reports whether e's next write appends its journal to its
// side record rather than rewriting it: a dirty side entry whose kind
// journals its writes, whose side record is in the side log format, and
// whose stored bytes stay within a compactAt-th past its last whole write.
func (e *entry) appendable() bool {
	if !e.sideLog || e.whole || e.stub || !e.dirty {
		return false
	}
	switch e.kind {
	case kindWindow, kindNovelty, kindBuckets:
	default:
		return false
	}
	return e.sideStored+e.segmentLen()-e.sideBase <= e.sideBase/compactAt
}

// segment renders e's journal as a segment to append to its side record,
// and empties it: e's expiry (Unix ms, rounded up), the count of
// operations, then the operations.
func (e *entry) segment() []byte {
	b := make([]byte, 0, e.segmentLen())
	b = binary.AppendUvarint(b, uint64((e.expires+999_999)/1_000_000))
	b = binary.AppendUvarint(b, uint64(e.journalN))
	b = append(b, e.journal...)
	e.sideStored += len(b)
	e.journal, e.journalN = e.journal[:0], 0
	return b
}

// wrote notes that e's side record was written whole, as data.
func (e *entry) wrote(data []byte) {
	e.sideLog, e.whole = true, false
	e.sideBase, e.sideStored = len(data), len(data)
	e.journal, e.journalN = e.journal[:0], 0
}

// sideLog decodes a side record in the side log format: its entry, then
// the segments appended to it, replayed in order. The entry's expiry is
// the last segment's: a base written with an expiry since passed may have
// been refreshed by an append.
func (d *decoder) sideLog(now int64) (*Record, error) {
	if n := d.uvarint(); d.err == nil && n != 1 {
		d.fail("side record of %d entries, want 1", n)
	}
	start := d.off
	e := d.entry()
	if d.err == nil && e.stub {
		d.fail("side record holds a stub")
	}
	if d.err != nil {
		return nil, d.err
	}
	e.size = d.off - start
	base := d.off
	for d.err == nil && d.off < len(d.b) {
		d.replay(e)
	}
	if d.err != nil {
		return nil, d.err
	}
	e.sideLog, e.sideBase, e.sideStored = true, base, len(d.b)
	r := &Record{stored: len(d.b)}
	if e.expires > now {
		r.add(e)
	}
	r.keyPXAT = r.pxat(now)
	return r, nil
}

// replay decodes one segment and applies its operations to e.
func (d *decoder) replay(e *entry) {
	ms := d.uvarint()
	if ms > 1<<62/1_000_000 {
		d.fail("expiry %d out of range", ms)
	}
	e.expires = int64(ms) * 1_000_000
	n := d.count(2)
	for i := 0; i < n && d.err == nil; i++ {
		op := d.byte()
		if d.err == nil && opKind(op) != e.kind {
			d.fail("operation %d on a %s", op, e.kind)
			return
		}
		d.apply(e, op)
	}
}

// opKind is the kind of entry op applies to (0: none).
func opKind(op byte) Kind {
	switch op {
	case opWindowAdd, opWindowTrim:
		return kindWindow
	case opNoveltySeen, opNoveltyTrim, opIntrosTrim, opIntro:
		return kindNovelty
	case opBucketAdd, opBucketTrim:
		return kindBuckets
	}
	return 0
}

// apply decodes the arguments of op and applies it to e, as the write
// that noted it did.
func (d *decoder) apply(e *entry, op byte) {
	switch op {
	case opWindowAdd:
		at := d.varint()
		m := d.bytes(d.count(1))
		if d.err == nil {
			e.addWindow(string(m), at)
		}
	case opWindowTrim:
		e.trimWindow(d.varint())
	case opNoveltySeen:
		m, at := d.u64(), d.varint()
		if i := e.novel(m); i < 0 {
			e.novelty = append(e.novelty, seen{member: m, at: at})
		} else {
			e.novelty[i].at = at
		}
	case opNoveltyTrim:
		e.trimNovelty(d.varint())
	case opIntrosTrim:
		e.forgetIntros(d.varint())
	case opIntro:
		in := intro{member: d.u64(), owner: d.u64(), when: d.varint()}
		e.setIntro(in)
	case opBucketAdd:
		start := d.varint()
		if p := d.bytes(bucketDigest); p != nil {
			e.addDigest(start, [bucketDigest]byte(p))
		}
	case opBucketTrim:
		e.trimBuckets(d.varint(), d.varint())
	}
}
