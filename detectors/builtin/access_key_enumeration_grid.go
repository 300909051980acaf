package builtin

import (
	"hash/maphash"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/state"
)

// enumGrid is where a scale keeps its windows: two windowed sets per
// principal, one per grid. A scale of width w counts reads in windows of
// 2w aligned on w (see enumWindows); the windows whose index (start / w)
// is even tile time without overlapping, and so do the odd ones. Each grid
// is one set whose members are the reads tagged with their window
// (enumTag), so a read of a window counts the members of its span and
// those are its own: the spans of one grid's other windows do not meet it,
// and a read made again in a later window is another member rather than
// the same one moved out of the earlier window.
//
// The two sets are the halves of one window pair (state.WindowPairAddRead):
// the two windows holding a read always lie on opposite grids, so one
// operation adds the read to both and reads both, where two, one per set,
// cost the store two lookups and the batch two entries.
//
// Held this way, a principal's state is bounded by the widest scale, not
// by how long it has been active: each add drops the members older than
// its TTL of event time (2w + AllowedLateness), where a set per window,
// named by its start, lived on for its wall-clock TTL, so a replayed month
// kept every window of it (a learned CSPM scanner's 27,613 of them).
type enumGrid struct {
	pair   string // the state key name of the pair of sets, half h grid h (state.PairHalf names them ":0" and ":1")
	width  int64  // w in nanoseconds
	tagLen int    // bytes of a member's window tag
	tags   int64  // distinct tags: enumTagChars ** tagLen
	spans  *enumSpanMemo
}

// enumTagChars are the characters a window tag is written in.
const enumTagChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"

// newEnumGrid is the grid of the scale name of width w. Two windows of one
// grid share a tag every tags windows; the tags outnumber by far the
// windows a read within lateness can still add to (2 + lateness/2w), so
// only a record days beyond its allowed lateness could find its window's
// member moved by a namesake. Defaults need one byte per member.
func newEnumGrid(name string, w, lateness time.Duration) enumGrid {
	live := 2 + int64(lateness/(2*w))
	g := enumGrid{pair: "enum:grid:" + name, width: int64(w), tagLen: 1, tags: int64(len(enumTagChars)), spans: new(enumSpanMemo)}
	for g.tags < 4*live && g.tagLen < 8 {
		g.tagLen++
		g.tags *= int64(len(enumTagChars))
	}
	return g
}

// window returns the grid (0 or 1) of the window starting at from,
// aligned on the scale's width, and the window's tag.
func (g *enumGrid) window(from time.Time) (grid int, tag int64) {
	return g.indexed(alignedIndex(from, g.width))
}

// indexed is window of the window of aligned index k (see alignedIndex).
func (g *enumGrid) indexed(k int64) (grid int, tag int64) {
	tag = (k >> 1) % g.tags
	if tag < 0 {
		tag += g.tags
	}
	return int(k & 1), tag
}

// windowsAt is enumWindowsAt(k, g.width), remembered: every counted read
// works out the two windows of each scale that hold it, and a scale's
// windows change only once per width of event time (a minute for the
// burst scale), where building the four times cost a counted read some
// 800 instructions.
func (g *enumGrid) windowsAt(k int64) *[2]state.Span {
	slot := &g.spans.slots[uint64(k)%uint64(len(g.spans.slots))]
	if e := slot.Load(); e != nil && e.k == k {
		return &e.spans
	}
	e := &enumSpans{k: k, spans: enumWindowsAt(k, g.width)}
	slot.Store(e)
	return &e.spans
}

// enumSpanMemo holds a grid's windows lately worked out, by aligned index:
// direct-mapped, so reads at a few nearby times (the principals of one
// batch) keep theirs, and safe for concurrent use (an entry is immutable
// once stored).
type enumSpanMemo struct {
	slots [8]atomic.Pointer[enumSpans]
}

type enumSpans struct {
	k     int64
	spans [2]state.Span
}

// alignedIndex is the index of the window of width ns aligned on it that
// holds t: t's nanoseconds divided by width, floored, so event times
// before 1970 align as after. Enumeration and recon grids choose a
// window's grid by this index's parity.
func alignedIndex(t time.Time, width int64) int64 { return floorDiv(t.UnixNano(), width) }

// floorDiv is ns / width rounded down, not toward zero.
func floorDiv(ns, width int64) int64 {
	k := ns / width
	if ns%width < 0 {
		k--
	}
	return k
}

// tagged is member prefixed with tag, in tagLen characters.
func (g *enumGrid) tagged(tag int64, member string) string {
	var sb strings.Builder
	sb.Grow(g.tagLen + len(member))
	var buf [8]byte
	for i := g.tagLen - 1; i >= 0; i-- {
		buf[i] = enumTagChars[tag%int64(len(enumTagChars))]
		tag /= int64(len(enumTagChars))
	}
	sb.Write(buf[:g.tagLen])
	sb.WriteString(member)
	return sb.String()
}

// untag is a stored member without its window tag.
func untag(member string, tagLen int) string {
	return member[min(tagLen, len(member)):]
}

// enumMember is one counted read ("service:Action", "!" when denied) and
// its tagged forms lately used, per scale and grid: a principal's reads in
// one window all carry its tag, and so do other principals' at that time,
// so the tagged member is built once per window rather than on each of a
// read's six adds.
//
// With one-character tags (the defaults) a member's tagged forms are few,
// and every scale and grid shares them: they are kept by tag (short), so
// the narrow scale's window, which moves every minute, no longer builds
// them again.
type enumMember struct {
	base  string
	last  [3][2]atomic.Pointer[enumTagged]
	short [len(enumTagChars)]atomic.Pointer[string]
}

type enumTagged struct {
	tag    int64
	member string
}

// enumMembers remember each distinct read's enumMember: a direct-mapped,
// bounded cache, safe for concurrent use (see stringMemo).
var enumMembers = newStringMemo(func(m string) *enumMember { return &enumMember{base: strings.Clone(m)} })

// tagged is m tagged for window tag of grid g of scale i.
func (m *enumMember) tagged(i int, g *enumGrid, grid int, tag int64) string {
	if g.tagLen == 1 {
		short := &m.short[tag]
		if s := short.Load(); s != nil {
			return *s
		}
		s := g.tagged(tag, m.base)
		short.Store(&s)
		return s
	}
	slot := &m.last[i][grid]
	if e := slot.Load(); e != nil && e.tag == tag && len(e.member) == g.tagLen+len(m.base) {
		return e.member
	}
	s := g.tagged(tag, m.base)
	slot.Store(&enumTagged{tag: tag, member: s})
	return s
}

// enumRead is what access-key-enumeration makes of a read's eventSource
// and eventName under its options: the read as counted, the service it
// maps, whether it is ignored or sensitive, and its members (plain and
// denied). A read of one API is counted record after record; working it
// out once per distinct API spares each of them two concatenations and
// four map lookups.
type enumRead struct {
	source, name string // the key: the record's eventSource and eventName
	action, svc  string
	svcKey       string // the key name of the service's first read
	ignored      bool
	sensitive    bool
	members      [2]*enumMember // plain, denied (deniedSuffix)
	// at is the address of the bytes of the event name the read was last
	// found for: a hint, as stringMemo's (see read).
	at atomic.Uintptr
}

// enumReads is a detector's bounded, direct-mapped memo of enumRead by
// API, safe for concurrent use: an entry is immutable once stored, and a
// colliding API replaces it.
type enumReads struct {
	seed   maphash.Seed
	slots  [memoSlots]atomic.Pointer[enumRead]
	byAddr [memoSlots]atomic.Pointer[enumRead] // by the address of the event name's bytes (see read)
}

// read returns r's enumRead. Cloud Control reads count per resource type,
// which is in the request: they are worked out each time.
func (d *AccessKeyEnumeration) read(r *cloudtrail.Record) *enumRead {
	src, name := r.EventSource, r.EventName
	if len(src)+len(name) > memoMaxKey || serviceOf(src) == "cloudcontrolapi" {
		return d.newRead(r)
	}
	// The event name is mostly the very string of the Reader's string
	// cache the read before had: found by its address, the read is
	// compared rather than hashed (see stringMemo.get), and the address
	// is only a hint.
	at := uintptr(unsafe.Pointer(unsafe.StringData(name)))
	near := &d.reads.byAddr[addrSlot(at)]
	if e := near.Load(); e != nil && e.at.Load() == at && e.name == name && e.source == src {
		return e
	}
	var h maphash.Hash
	h.SetSeed(d.reads.seed)
	h.WriteString(src)
	h.WriteByte(0)
	h.WriteString(name)
	slot := &d.reads.slots[h.Sum64()&(memoSlots-1)]
	e := slot.Load()
	if e == nil || e.source != src || e.name != name {
		e = d.newRead(r)
		// Clone: the fields may share the bytes of a whole batch's records.
		e.source, e.name = strings.Clone(src), strings.Clone(name)
		slot.Store(e)
	}
	e.at.Store(at)
	near.Store(e)
	return e
}

func (d *AccessKeyEnumeration) newRead(r *cloudtrail.Record) *enumRead {
	action, svc := enumAction(r)
	return &enumRead{
		source: r.EventSource, name: r.EventName,
		action: action, svc: svc, svcKey: enumServiceKeys.get(svc),
		ignored:   d.ignore[serviceOf(r.EventSource)+":"+r.EventName],
		sensitive: d.sensitive[svc] || d.sensitive[action],
		members:   [2]*enumMember{enumMembers.get(action), enumMembers.get(action + deniedSuffix)},
	}
}

// enumNetKeys is a detector's bounded, direct-mapped memo of the key names
// networkKey builds: a principal reads from a few networks with a few
// tools, record after record, and each built the same string anew.
type enumNetKeys struct {
	seed  maphash.Seed
	slots [memoSlots]atomic.Pointer[string]
}

// intern returns string(b), built once per distinct value it holds.
func (c *enumNetKeys) intern(b []byte) string {
	slot := &c.slots[maphash.Bytes(c.seed, b)&(memoSlots-1)]
	if e := slot.Load(); e != nil && *e == string(b) {
		return *e
	}
	s := string(b)
	slot.Store(&s)
	return s
}
