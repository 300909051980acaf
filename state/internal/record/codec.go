package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/iamsentry/iamsentry/state"
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

// SideThreshold is the encoded size past which an entry leaves its
// identity's record for a side record of its own: a scanner's enumeration
// windows hold hundreds of members, and rewriting all of them whenever any
// of the identity's state changes would cost more than the change.
const SideThreshold = 1024

// sideFlag marks the kind byte of a stub: an entry kept in a side record,
// of which the record holds the name, kind, expiry and version only.
const sideFlag = 0x80

// Side is a side record to write: the encoding of one large entry, under
// the key the caller derives from Name.
type Side struct {
	Name    uint64
	Data    []byte
	Expires int64 // Unix ns
}

// Encode renders the entries of r live at now (Unix ns) after version,
// and the side records of the large entries written since they were last
// encoded (each under a new version the record's stub names). Encoding
// marks the entries clean: a caller whose write of the result fails
// discards r.
func (r *Record) Encode(version [VersionSize]byte, now int64) ([]byte, []Side) {
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
	var sides []Side
	var scratch []byte
	for _, e := range r.entries {
		if e.kind == 0 || e.expires <= now {
			continue
		}
		if e.stub || (e.side && !e.dirty) {
			b = e.encodeStub(b)
			continue
		}
		scratch = e.encode(scratch[:0])
		e.size = len(scratch)
		if !e.side && len(scratch) <= SideThreshold {
			b = append(b, scratch...)
			e.dirty = false
			continue
		}
		e.side, e.dirty = true, false
		binary.BigEndian.PutUint64(e.version[:], rand.Uint64())
		data := make([]byte, 0, VersionSize+2+len(scratch))
		data = append(data, e.version[:]...)
		data = append(data, format, 1)
		data = append(data, scratch...)
		sides = append(sides, Side{Name: e.name, Data: data, Expires: e.expires})
		b = e.encodeStub(b)
	}
	return b, sides
}

func (e *entry) encodeStub(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, e.name)
	b = append(b, byte(e.kind)|sideFlag)
	b = binary.AppendUvarint(b, uint64((e.expires+999_999)/1_000_000))
	return append(b, e.version[:]...)
}

// Stubs returns the names of the entries that ops name and whose side
// records are not attached, with the versions the record expects of them.
func (r *Record) Stubs(ops []state.Op, now int64) map[uint64][VersionSize]byte {
	var out map[uint64][VersionSize]byte
	for _, op := range ops {
		i := r.find(Digest(op.Target().Name))
		if i < 0 {
			continue
		}
		if e := r.entries[i]; e.stub && e.kind != 0 && e.expires > now {
			if out == nil {
				out = make(map[uint64][VersionSize]byte)
			}
			out[e.name] = e.version
		}
	}
	return out
}

// Attach puts the entry of a side record (as read: nil when its key is
// gone) in place of its stub. It reports false when the side record is not
// the version the stub names: the record was read before a newer write of
// both, and the caller must read it again.
func (r *Record) Attach(name uint64, side []byte, now int64) (bool, error) {
	i := r.find(name)
	if i < 0 || !r.entries[i].stub {
		return true, nil
	}
	stub := r.entries[i]
	if side == nil {
		r.reset(stub, 0) // expired with its side record
		return true, nil
	}
	if v, _ := Version(side); v != stub.version {
		return false, nil
	}
	sr, err := Decode(side, now)
	if err != nil {
		return false, fmt.Errorf("side record: %w", err)
	}
	if len(sr.entries) == 0 {
		r.reset(stub, 0)
		return true, nil
	}
	e := sr.entries[0]
	if e.name != name || e.kind != stub.kind || e.stub {
		return false, fmt.Errorf("%w: side record holds another entry than its stub names", ErrCorrupt)
	}
	e.side, e.version, e.size = true, stub.version, len(side)
	r.entries[i] = e
	return true, nil
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
		start := d.off
		e := d.entry()
		e.size = d.off - start
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
	if e.kind&sideFlag != 0 {
		e.kind &^= sideFlag
		e.side, e.stub = true, true
		if e.kind == 0 || e.kind >= kindLimit {
			d.fail("unknown kind %d", e.kind)
		}
		if p := d.bytes(VersionSize); p != nil {
			copy(e.version[:], p)
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
	return fmt.Sprintf("%d B: %s%d side", len(b), out, stubs)
}
