package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
)

// The encoding of a record: VersionSize bytes of version (opaque to the
// record: the store's compare-and-set token), a format byte, the number of
// entries, then each entry: its 8-byte name digest, its kind, its expiry in
// Unix milliseconds (rounded up), and what its kind holds:
//
//	value, throttle  length, bytes
//	mark             event time (ns, zig-zag)
//	window           count, then per member: time (ns, zig-zag delta from
//	                 the previous member's), length, bytes
//	novelty          count, then per member: 8-byte digest, time (ns,
//	                 zig-zag delta); count of introductions, then per
//	                 introduction: member and owner digests, when (ns)
//	buckets          count, then per bucket: start (ns, zig-zag delta),
//	                 count, 6-byte digests
//
// Integers are varints. Entries expired at encoding time are left out.

// VersionSize is the length of the version prefix.
const VersionSize = 8

// Formats: format and pagedFormat name each page and large entry's side
// record by its page or name alone (one key rewritten in place, by the
// version-checked script); formatV and pagedFormatV, which Encode writes,
// by its version too (see versioned). formatLog (log.go), formatSideLog
// (sidelog.go) and formatLogOps (delta.go) append to what is stored.
// Decode reads all seven.
const (
	format       = 1
	pagedFormat  = 2
	formatV      = 3
	pagedFormatV = 4
	formatLog    = 5 // formatV, then appended segments: see EncodeWrite
	// formatSideLog is a large entry's side record: its entry, then
	// appended segments of operations (see sidelog.go).
	formatSideLog = 6
	// formatLogOps is formatLog whose segments may hold deltas: an
	// entry's operations in place of the entry (see delta).
	formatLogOps = 7
)

// ErrCorrupt marks bytes that are not a record.
var ErrCorrupt = errors.New("record: corrupt")

// SideThreshold is the encoded size past which an entry leaves its
// identity's record for a side record of its own: a scanner's enumeration
// windows hold hundreds of members, and rewriting all of them whenever any
// of the identity's state changes would cost more than the change.
const SideThreshold = 1024

// sideFlag marks the kind byte of a stub: an entry kept in a side record,
// of which the record holds the name, kind, expiry and version only.
const sideFlag = 0x80

// Paging: a record whose encoding outgrows PageThreshold is split into
// pages (side records of their own), each holding the entries whose name
// digest's low bits match its prefix; the record itself then holds only
// the page directory (each page's prefix, version and expiry). A page
// whose encoding outgrows pageSplit splits in two by one more bit. A batch
// rewrites the pages it changed and the directory, not every entry: an
// automation principal keeps tens of thousands of time-named windows, of
// which a batch touches a few.
const (
	PageThreshold = 32 << 10
	pageSplit     = 16 << 10
)

// Side is a side record to write: a page, or one large entry, under the
// key the caller derives from Suffix. Old, when not "", is the suffix of
// the version it replaces: the caller deletes that key once the record
// naming the new version is stored (and the new key when it is not). A
// Side with a nil Data only deletes Old: a page that emptied.
type Side struct {
	Suffix  string
	Data    []byte
	Expires int64 // Unix ns
	Old     string
	// Append: Data is a segment to APPEND to the side record stored at
	// Suffix (see sidelog.go), whose key's expiry becomes Expires, or
	// stays when Expires is 0 (it is no earlier already); the
	// caller appends only when the record naming it is stored, and only
	// to a side record that still exists.
	Append bool

	buf *[]byte // Data's pooled buffer, for a page: see Release
}

// pagePool holds the buffers pages are encoded into. A page's bytes are
// only sent: its entries keep their encodings apart, so the caller can
// hand the bytes back (Release) once its write returned, and the next
// page reuses them instead of allocating a page's worth per write.
var pagePool = sync.Pool{New: func() any { return new([]byte) }}

// pageBufSize is what a fresh page buffer holds: pages split past
// pageSplit, so most fit. maxPooledPage bounds what is kept for reuse.
const (
	pageBufSize   = pageSplit + pageSplit/4
	maxPooledPage = 4 * pageSplit
)

// Release hands the bytes of sides' pages back for reuse by later
// encodings and clears their Data. The caller must not use them any more,
// nor may anything it gave them to: a store releases them once the
// write that sent them returned. It is safe on sides already released.
func Release(sides []Side) {
	for i := range sides {
		if sp := sides[i].buf; sp != nil {
			sides[i].buf, sides[i].Data = nil, nil
			putPageBuf(sp)
		}
	}
}

func putPageBuf(sp *[]byte) {
	if cap(*sp) <= maxPooledPage {
		*sp = (*sp)[:0]
		pagePool.Put(sp)
	}
}

// Encode renders r after version: its entries live at now (Unix ns), or
// its page directory when paged. It also returns the side records written
// since r was last encoded (pages and large entries, each under a new
// version that r names). Encoding marks the entries clean: a caller whose
// write of the result fails discards r.
func (r *Record) Encode(version [VersionSize]byte, now int64) ([]byte, []Side) {
	// Every dirty entry is in a dirty page, or in r.entries: all are
	// encoded below, and clean.
	if r.pages != nil {
		for _, e := range r.dirty {
			pg := &r.pages[r.pageOf(e.name)]
			pg.pending = append(pg.pending, e)
		}
	}
	clear(r.dirty)
	r.dirty, r.sized, r.tally.ok = r.dirty[:0], false, false
	var sides []Side
	if r.pages == nil {
		var head [VersionSize + 1]byte
		copy(head[:], version[:])
		head[VersionSize] = formatV
		var b []byte
		b, sides = r.encodeEntries(head[:], r.entries, now, sides, nil)
		if len(b) <= PageThreshold {
			r.log, r.stored, r.keyPXAT = len(b) >= LogThreshold, len(b), r.keyExpiry(now)
			r.size, r.sized = r.listed, true // what Size would sum
			if r.log {
				b[VersionSize] = formatLog
			}
			return b, sides
		}
		r.addPage(page{loaded: true, dirty: true, entries: slices.Clone(r.entries)}) // one page of all, split below
	}
	for i := 0; i < len(r.pages); i++ {
		pg := &r.pages[i]
		if !pg.dirty {
			continue
		}
		var appended bool
		if sides, appended = r.appendPage(pg, now, sides); appended {
			continue
		}
		if pg.bits < maxPageBits && estimate(pg.entries) > pageSplit {
			r.splitPage(i)
			i--
			continue
		}
		head := [VersionSize + 1]byte{VersionSize: formatLogOps} // the version is set below
		sp := pagePool.Get().(*[]byte)
		var data []byte
		data, sides = r.encodeEntries(head[:], pg.entries, now, sides, sp)
		*sp = data
		if pg.bits < maxPageBits && len(data) > pageSplit {
			putPageBuf(sp)
			r.splitPage(i) // the estimate fell short: new entries
			i--
			continue
		}
		pg.dirty, pg.size, pg.base, pg.log = false, len(data), len(data), true
		binary.BigEndian.PutUint64(pg.version[:], rand.Uint64())
		copy(data, pg.version[:])
		pg.expires = 0
		for _, e := range pg.entries {
			if e.kind != 0 && e.expires > now {
				pg.expires = max(pg.expires, e.expires)
			}
		}
		old := pg.stored
		if pg.expires > 0 {
			pg.stored = pageSuffix(pg.bits, pg.prefix, &pg.version)
			pg.keyExp = withSlack((pg.expires+999_999)/1_000_000, now)
			sides = append(sides, Side{Suffix: pg.stored, Data: data, Expires: pg.keyExp * 1_000_000, Old: old, buf: sp})
		} else {
			putPageBuf(sp)
			pg.stored, pg.log = "", false
			if old != "" {
				sides = append(sides, Side{Old: old})
			}
		}
	}
	b := append(append(make([]byte, 0, VersionSize+3+len(r.pages)*(VersionSize+10)), version[:]...), pagedFormatV)
	b = binary.AppendUvarint(b, uint64(len(r.pages)))
	size := len(r.pages) * (VersionSize + 8) // Size's figure, summed here in passing
	for _, pg := range r.pages {
		b = append(b, pg.bits)
		b = binary.AppendUvarint(b, pg.prefix)
		b = append(b, pg.version[:]...)
		b = binary.AppendUvarint(b, uint64(max(pg.expires, 0)+999_999)/1_000_000)
		size += pg.size
	}
	r.log, r.stored, r.keyPXAT = false, len(b), r.pxat(now)
	r.size, r.sized = size, true
	return b, sides
}

// estimate is about how many bytes es took when last encoded.
// A side entry takes its stub's bytes.
func estimate(es []*entry) int {
	n := 0
	for _, e := range es {
		if e.side {
			n += stubSize
		} else {
			n += e.size
		}
	}
	return n
}

// stubSize is about the bytes of a stub: name, kind, expiry, version.
const stubSize = 8 + 1 + 6 + VersionSize

// scratchPool holds the buffers dirty entries are encoded into before
// encodeEntries copies them into exactly sized bytes: no scratch buffer is
// kept past the call, so they are reused, unless one grew past
// maxPooledScratch.
var scratchPool = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledScratch = 64 << 10

// encodeEntries returns head, then the count and encodings of the entries
// of es live at now, large ones as stubs of side records appended to
// sides. It encodes the changed entries first so that it allocates the
// result once at its exact size, and the clean entries alias it; or, with
// into, it encodes into *into, which the entries must not alias (it is
// reused once sent): the changed entries then keep a copy of their own.
func (r *Record) encodeEntries(head []byte, es []*entry, now int64, sides []Side, into *[]byte) ([]byte, []Side) {
	sp := scratchPool.Get().(*[]byte)
	scratch := (*sp)[:0]
	live, size, inline := 0, len(head), 0
	r.listed = 0
	for _, e := range es {
		if e.kind == 0 || e.expires <= now {
			e.dirty = false // left out: nothing of it is to be written
			r.listed += e.size
			continue
		}
		live++
		if e.dirty {
			// The encoding keeps the expiry in whole ms, rounded up:
			// so does this copy from now on, or a replica that decodes
			// it would see the entry live for up to a ms after this
			// one saw it gone.
			e.expires = (e.expires + 999_999) / 1_000_000 * 1_000_000
		}
		// How a dirty entry is written is decided here, once: its
		// encoding below changes e.size, which deltable weighs.
		e.as = asEntry
		switch {
		case e.appendable():
			e.as = asAppend
			size += e.stubLen()
		case r.segmenting && e.deltable():
			e.as = asDelta
			size += e.deltaLen()
		case e.stub || (e.side && !e.dirty):
			size += e.stubLen()
		case !e.dirty && e.enc != nil:
			size += len(e.enc)
		default:
			start := len(scratch)
			scratch = e.encode(scratch)
			e.size = len(scratch) - start
			if !e.side && e.size <= SideThreshold {
				size += e.size
				inline += e.size
			} else {
				size += e.stubLen()
			}
		}
		r.listed += e.size
	}
	size += uvarintLen(uint64(live))
	var b, own []byte
	switch {
	case into == nil:
		b = make([]byte, 0, size)
	case cap(*into) >= size:
		b = (*into)[:0]
	default:
		b = make([]byte, 0, max(size, pageBufSize))
	}
	if into != nil && inline > 0 {
		own = make([]byte, 0, inline)
	}
	b = append(b, head...)
	b = binary.AppendUvarint(b, uint64(live))
	off := 0
	for _, e := range es {
		if e.kind == 0 || e.expires <= now {
			continue
		}
		if e.stub || (e.side && !e.dirty) {
			b = e.encodeStub(b)
			continue
		}
		if e.as == asDelta {
			b = e.appendDelta(b)
			r.deltas = true
			continue
		}
		if e.as == asAppend {
			// What this write did to a large entry, appended to its
			// side record under the same key and version.
			sd := Side{Suffix: e.stored, Data: e.segment(), Append: true}
			if ms := (e.expires + 999_999) / 1_000_000; ms > e.sideExp {
				e.sideExp = withSlack(ms, now)
				sd.Expires = e.sideExp * 1_000_000
			}
			sides = append(sides, sd)
			e.dirty = false
			b = e.encodeStub(b)
			continue
		}
		if !e.dirty && e.enc != nil {
			b = append(b, e.enc...) // clean: as it was read or last written
			continue
		}
		enc := scratch[off : off+e.size]
		off += e.size
		if !e.side && len(enc) <= SideThreshold {
			e.based, e.journal, e.journalN = true, e.journal[:0], 0
			b = append(b, enc...)
			if into == nil {
				e.enc = b[len(b)-len(enc) : len(b) : len(b)]
			} else {
				own = append(own, enc...)
				e.enc = own[len(own)-len(enc) : len(own) : len(own)]
			}
			e.dirty = false
			continue
		}
		e.enc = nil
		e.side, e.dirty = true, false
		binary.BigEndian.PutUint64(e.version[:], rand.Uint64())
		data := make([]byte, 0, VersionSize+2+len(enc))
		data = append(data, e.version[:]...)
		data = append(data, formatSideLog, 1)
		data = append(data, enc...)
		e.wrote(data)
		old := e.stored
		e.stored = entrySuffix(e.name, &e.version)
		e.sideExp = withSlack((e.expires+999_999)/1_000_000, now)
		sides = append(sides, Side{Suffix: e.stored, Data: data, Expires: e.sideExp * 1_000_000, Old: old})
		b = e.encodeStub(b)
	}
	if cap(scratch) <= maxPooledScratch {
		*sp = scratch[:0]
		scratchPool.Put(sp)
	}
	return b, sides
}

// stubLen is the length of e's stub, as encodeStub appends it.
func (e *entry) stubLen() int {
	return 8 + 1 + uvarintLen(uint64((e.expires+999_999)/1_000_000)) + VersionSize
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

func (e *entry) encodeStub(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, e.name)
	b = append(b, byte(e.kind)|sideFlag)
	b = binary.AppendUvarint(b, uint64((e.expires+999_999)/1_000_000))
	return append(b, e.version[:]...)
}

// Version returns the version prefix of an encoded record, and false when
// b is too short to hold one.
func Version(b []byte) ([VersionSize]byte, bool) {
	if len(b) < VersionSize {
		return [VersionSize]byte{}, false
	}
	return [VersionSize]byte(b[:VersionSize]), true
}

// Decode parses an encoded record, leaving out the entries expired at now
// (Unix ns). Bytes that are not a record give an error wrapping
// ErrCorrupt that says where they went wrong, never a panic.
func Decode(b []byte, now int64) (*Record, error) {
	d := decoder{b: b}
	if len(b) < VersionSize+1 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a record's header", ErrCorrupt, len(b))
	}
	d.off = VersionSize
	var log bool
	switch f := d.byte(); f {
	case format, formatV:
		d.versioned = f == formatV
	case formatLog, formatLogOps:
		d.versioned, log, d.deltas = true, true, f == formatLogOps
	case formatSideLog:
		d.versioned = true
		return d.sideLog(now)
	case pagedFormat, pagedFormatV:
		d.versioned = f == pagedFormatV
		r, err := d.directory()
		if err == nil {
			r.stored, r.keyPXAT = len(b), r.pxat(now)
		}
		return r, err
	default:
		return nil, fmt.Errorf("%w: format %d, want 1 to 7", ErrCorrupt, f)
	}
	r := &Record{log: log, stored: len(b)}
	d.segment(r, now)
	for log && d.err == nil && d.off < len(b) {
		d.segment(r, now) // appended: later copies replace earlier ones
	}
	if d.err == nil && d.off != len(b) {
		d.fail("%d bytes after the last entry", len(b)-d.off)
	}
	if d.err != nil {
		return nil, d.err
	}
	if log {
		r.dropExpired(now)
	}
	r.keyPXAT = r.pxat(now)
	return r, nil
}

// segment decodes a count of entries into r, leaving out those expired at
// now. In the log format a name met again replaces the entry (expired or
// not: it is the later copy); in the others it is corrupt.
func (d *decoder) segment(r *Record, now int64) {
	n := d.count(1 + 8 + 1 + 1)
	if r.entries == nil {
		r.entries = make([]*entry, 0, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		start := d.off
		if d.delta(r) {
			continue
		}
		e := d.entry()
		e.size = d.off - start
		if !e.stub {
			e.enc, e.based = d.b[start:d.off:d.off], true
		} else {
			r.stubs = true
		}
		if d.err != nil {
			return
		}
		j := r.find(e.name)
		switch {
		case r.log && j >= 0:
			r.entries[j] = e // expired or not: a later delta may refresh it
		case r.log:
			r.add(e) // expired ones are dropped once all segments are read
		case e.expires <= now:
		case j >= 0:
			d.fail("entry %d repeats a name", i)
			return
		default:
			r.add(e)
		}
	}
}

// decoder reads an encoded record, remembering its first error.
type decoder struct {
	b         []byte
	off       int
	err       error
	versioned bool // side records' keys name their versions (formatV, pagedFormatV)
	deltas    bool // segments may hold deltas (formatLogOps)
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w at byte %d: %s", ErrCorrupt, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || d.off >= len(d.b) {
		d.fail("truncated")
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

// count reads a count of items of at least min bytes each, refusing one
// the rest of the bytes cannot hold (so a hostile count allocates nothing).
func (d *decoder) count(min int) int {
	v := d.uvarint()
	if d.err == nil && v > uint64((len(d.b)-d.off)/min) {
		d.fail("count %d exceeds the bytes left", v)
		return 0
	}
	return int(v)
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil || n > len(d.b)-d.off {
		d.fail("truncated")
		return nil
	}
	d.off += n
	return d.b[d.off-n : d.off]
}

func (d *decoder) u64() uint64 {
	p := d.bytes(8)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint64(p)
}

func (d *decoder) entry() *entry {
	e := &entry{name: d.u64(), kind: Kind(d.byte())}
	ms := d.uvarint()
	if ms > 1<<62/1_000_000 {
		d.fail("expiry %d out of range", ms)
	}
	e.expires = int64(ms) * 1_000_000
	if e.kind&sideFlag != 0 {
		e.kind &^= sideFlag
		e.side, e.stub = true, true
		if e.kind == 0 || e.kind >= kindLimit {
			d.fail("unknown kind %d", e.kind)
		}
		if p := d.bytes(VersionSize); p != nil {
			copy(e.version[:], p)
		}
		if d.versioned {
			e.stored = entrySuffix(e.name, &e.version)
		} else {
			e.stored = entrySuffix(e.name, nil)
		}
		return e
	}
	switch e.kind {
	case kindValue, kindThrottle:
		e.value = append([]byte{}, d.bytes(d.count(1))...)
	case kindMark:
		e.mark = d.varint()
	case kindWindow:
		n := d.count(2)
		e.window = make([]timed, 0, n)
		var at int64
		for range n {
			at += d.varint()
			m := string(d.bytes(d.count(1)))
			e.window = append(e.window, timed{at: at, member: m, tag: memberTag(m)})
		}
	case kindNovelty:
		d.novelty(e)
	case kindBuckets:
		n := d.count(2)
		e.buckets = make([]bucket, 0, n)
		var start int64
		for range n {
			start += d.varint()
			m := d.count(bucketDigest)
			e.buckets = append(e.buckets, bucket{start: start, members: append([]byte{}, d.bytes(m*bucketDigest)...)})
		}
	default:
		d.fail("unknown kind %d", e.kind)
	}
	return e
}

func (d *decoder) novelty(e *entry) {
	n := d.count(9)
	e.novelty = make([]seen, 0, n)
	var at int64
	for range n {
		m := d.u64()
		at += d.varint()
		e.novelty = append(e.novelty, seen{member: m, at: at})
	}
	n = d.count(17)
	e.intros = make([]intro, 0, n)
	for range n {
		e.intros = append(e.intros, intro{member: d.u64(), owner: d.u64(), when: d.varint()})
	}
}

// Describe summarises an encoded record for logs and benchmarks: its
// entries and bytes by kind, stubs of side records apart.
func Describe(b []byte) string {
	r, err := Decode(b, 0)
	if err != nil {
		return err.Error()
	}
	var n, size [kindLimit]int
	stubs := 0
	for _, e := range r.entries {
		if e.stub {
			stubs++
			continue
		}
		n[e.kind]++
		size[e.kind] += e.size
	}
	var out []byte
	for k := kindValue; k < kindLimit; k++ {
		if n[k] > 0 {
			out = fmt.Appendf(out, "%s %d (%d B); ", k, n[k], size[k])
		}
	}
	return fmt.Sprintf("%d B: %s%d side, %d pages", len(b), out, stubs, len(r.pages))
}

func (e *entry) encode(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, e.name)
	b = append(b, byte(e.kind))
	b = binary.AppendUvarint(b, uint64((e.expires+999_999)/1_000_000))
	switch e.kind {
	case kindValue, kindThrottle:
		b = binary.AppendUvarint(b, uint64(len(e.value)))
		b = append(b, e.value...)
	case kindMark:
		b = binary.AppendVarint(b, e.mark)
	case kindWindow:
		b = binary.AppendUvarint(b, uint64(len(e.window)))
		var prev int64
		for _, t := range e.window {
			b = binary.AppendVarint(b, t.at-prev)
			prev = t.at
			b = binary.AppendUvarint(b, uint64(len(t.member)))
			b = append(b, t.member...)
		}
	case kindNovelty:
		b = binary.AppendUvarint(b, uint64(len(e.novelty)))
		var prev int64
		for _, s := range e.novelty {
			b = binary.BigEndian.AppendUint64(b, s.member)
			b = binary.AppendVarint(b, s.at-prev)
			prev = s.at
		}
		b = binary.AppendUvarint(b, uint64(len(e.intros)))
		for _, in := range e.intros {
			b = binary.BigEndian.AppendUint64(b, in.member)
			b = binary.BigEndian.AppendUint64(b, in.owner)
			b = binary.AppendVarint(b, in.when)
		}
	case kindBuckets:
		b = binary.AppendUvarint(b, uint64(len(e.buckets)))
		var prev int64
		for _, k := range e.buckets {
			b = binary.AppendVarint(b, k.start-prev)
			prev = k.start
			b = binary.AppendUvarint(b, uint64(len(k.members)/bucketDigest))
			b = append(b, k.members...)
		}
	}
	return b
}
