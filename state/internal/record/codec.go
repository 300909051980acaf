package record

import (
	"encoding/binary"
	"errors"
	"fmt"
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

const format = 1

// ErrCorrupt marks bytes that are not a record.
var ErrCorrupt = errors.New("record: corrupt")

// Encode renders the entries of r live at now (Unix ns) after version.
func (r *Record) Encode(version [VersionSize]byte, now int64) []byte {
	b := make([]byte, 0, 64+32*len(r.entries))
	b = append(b, version[:]...)
	b = append(b, format)
	live := 0
	for _, e := range r.entries {
		if e.kind != 0 && e.expires > now {
			live++
		}
	}
	b = binary.AppendUvarint(b, uint64(live))
	for _, e := range r.entries {
		if e.kind != 0 && e.expires > now {
			b = e.encode(b)
		}
	}
	return b
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
	if f := d.byte(); f != format {
		return nil, fmt.Errorf("%w: format %d, want %d", ErrCorrupt, f, format)
	}
	n := d.count(1 + 8 + 1 + 1)
	r := &Record{entries: make([]*entry, 0, n)}
	for i := 0; i < n && d.err == nil; i++ {
		e := d.entry()
		if d.err == nil && e.expires > now {
			if r.find(e.name) >= 0 {
				d.fail("entry %d repeats a name", i)
				break
			}
			r.add(e)
		}
	}
	if d.err == nil && d.off != len(b) {
		d.fail("%d bytes after the last entry", len(b)-d.off)
	}
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

// decoder reads an encoded record, remembering its first error.
type decoder struct {
	b   []byte
	off int
	err error
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
			e.window = append(e.window, timed{at: at, member: string(d.bytes(d.count(1)))})
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
