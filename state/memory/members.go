package memory

import (
	"math"
	"slices"
	"strings"
	"unsafe"
)

// fewMembers is how many members a set holds in a slice before it moves to
// a map. Most sets of an identity (its networks, its recent actions) hold a
// few members: a slice of them, searched in order, takes a tenth of the
// bytes of the smallest map (256) and is as fast to search at this size.
const fewMembers = 8

// fewSorted is fewMembers for a sorted set. Its members are found from
// the tail, where most adds land (a member at the latest time, or one
// seen again a few places back), and a slice scanned to its head to
// prove a member new costs fewer instructions up to this size than a
// map's look-up, its insert and, later, its delete (the window sets'
// maps were 7 % of the store's instructions in a scan).
const fewSorted = 32

// timed is a member with the latest event time it was seen at.
type timed struct {
	member string
	at     int64
}

// members is a set of members with times. An unsorted set (novelty) is a
// slice while it is small (few) and a map past fewMembers (many); once a
// map, it stays one. A sorted set (window) keeps every member in few,
// ordered by time then member, so that counting a span is two binary
// searches and listing its earliest members a slice of few, with no sort
// per read; past fewSorted, many indexes the members' times as well.
// Whether a set is sorted is its entry's kind: a flag here would push every
// entry into the next size class. The methods named sorted are for sorted
// sets, the others for either unless they say so.
type members struct {
	few  []timed
	many map[string]int64
}

// get returns member's time.
func (s *members) get(member string) (int64, bool) {
	if s.many != nil {
		at, ok := s.many[member]
		return at, ok
	}
	for _, t := range s.few {
		if same(t.member, member) {
			return t.at, true
		}
	}
	return 0, false
}

// getSorted is get for a sorted set, which also returns member's index
// in few when it found the member there (-1 when its map answered): the
// slice is searched from the tail.
func (s *members) getSorted(member string) (at int64, i int, ok bool) {
	if s.many != nil {
		at, ok := s.many[member]
		return at, -1, ok
	}
	for i := len(s.few) - 1; i >= 0; i-- {
		if same(s.few[i].member, member) {
			return s.few[i].at, i, true
		}
	}
	return 0, -1, false
}

// len returns the number of members. A sorted set's map, when it has one,
// holds every member too.
func (s *members) len() int {
	if s.many != nil {
		return len(s.many)
	}
	return len(s.few)
}

// put records member at at in an unsorted set, keeping the latest time,
// and reports whether the member is new. A new member is copied: the
// caller's string may be a slice of a large record, which the set would pin.
func (s *members) put(member string, at int64) (added bool) {
	if s.many != nil {
		prev, ok := s.many[member]
		if !ok {
			s.many[strings.Clone(member)] = at
		} else if at > prev {
			s.many[member] = at
		}
		return !ok
	}
	for i := range s.few {
		if same(s.few[i].member, member) {
			s.few[i].at = max(s.few[i].at, at)
			return false
		}
	}
	if len(s.few) < fewMembers {
		s.few = append(s.few, timed{strings.Clone(member), at})
		return true
	}
	s.many = make(map[string]int64)
	for _, t := range s.few {
		s.many[t.member] = t.at
	}
	s.few = nil
	s.many[strings.Clone(member)] = at
	return true
}

// putSorted is put for a sorted set. A member seen again later moves up to
// its new time; events come mostly in time order, so the move and the
// insertion of a new member usually end at the tail. A new member is
// copied into t rather than apart.
func (s *members) putSorted(member string, at int64, t *text) (added bool) {
	if n := len(s.few); n > 0 && same(s.few[n-1].member, member) {
		// The latest member again (a burst of one action): it stays at
		// the tail, and the map lookup is spared.
		if t := &s.few[n-1]; at > t.at {
			t.at = at
			if s.many != nil {
				s.many[t.member] = at
			}
		}
		return false
	}
	prev, i, ok := s.getSorted(member)
	if ok {
		if at <= prev {
			return false
		}
		if i < 0 {
			i = s.search(prev, member) // where member is: (prev, member) is in few
		}
		stored := s.few[i].member
		j := s.search(at, member) // where it goes, past i
		copy(s.few[i:j-1], s.few[i+1:j])
		s.few[j-1] = timed{stored, at}
		if s.many != nil {
			s.many[stored] = at
		}
		return false
	}
	m := t.clone(member)
	if i := s.search(at, m); i < len(s.few) {
		s.few = slices.Insert(s.few, i, timed{m, at})
	} else {
		// The common case: append spares slices.Insert's copy of a
		// slice of one.
		s.few = append(s.few, timed{m, at})
	}
	switch {
	case s.many != nil:
		s.many[m] = at
	case len(s.few) > fewSorted:
		s.many = make(map[string]int64, len(s.few))
		for _, t := range s.few {
			s.many[t.member] = t.at
		}
	}
	return true
}

// search returns the index of the first member of a sorted set not before
// (at, member) in time-then-member order: len(few) when every member is.
func (s *members) search(at int64, member string) int {
	n := len(s.few)
	if n == 0 || less(s.few[n-1], at, member) {
		return n // the common case: a member at the latest time
	}
	lo, hi := 0, n-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if less(s.few[mid], at, member) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// less reports whether t comes before (at, member).
func less(t timed, at int64, member string) bool {
	return t.at < at || (t.at == at && t.member < member)
}

// from returns the index of the first member of a sorted set whose time
// is t or later: search(t, ""), comparing times alone.
func (s *members) from(t int64) int {
	lo, hi := 0, len(s.few)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s.few[mid].at < t {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// after returns the index of the first member of a sorted set whose time is
// after t: len(few) when none is.
func (s *members) after(t int64) int {
	lo, hi := 0, len(s.few)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s.few[mid].at <= t {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// span returns the bounds [lo, hi) in few of the members of a sorted set
// whose time lies in [from, to].
func (s *members) span(from, to int64) (lo, hi int) {
	n := len(s.few)
	if from > to || n == 0 {
		return 0, 0
	}
	// A span often reaches past the set's ends (a window read whole, a
	// set trimmed to its span): each end found so costs no search.
	if from <= s.few[0].at {
		lo = 0
	} else {
		lo = s.from(from)
	}
	if to >= s.few[n-1].at {
		hi = n
	} else {
		hi = s.after(to)
	}
	return lo, hi
}

// dropBefore removes the members of an unsorted set last seen before
// cutoff and returns the bytes of their names and the oldest time left
// (MaxInt64 when none).
func (s *members) dropBefore(cutoff int64) (freed, oldest int64) {
	oldest = math.MaxInt64
	if s.many != nil {
		for m, at := range s.many {
			if at < cutoff {
				delete(s.many, m)
				freed += int64(len(m))
			} else {
				oldest = min(oldest, at)
			}
		}
		return freed, oldest
	}
	kept := s.few[:0]
	for _, t := range s.few {
		if t.at < cutoff {
			freed += int64(len(t.member))
		} else {
			kept = append(kept, t)
			oldest = min(oldest, t.at)
		}
	}
	clear(s.few[len(kept):])
	s.few = kept
	return freed, oldest
}

// dropSortedBefore is dropBefore for a sorted set: the members due are a
// prefix of few. tx is the set's text, which their copies leave.
func (s *members) dropSortedBefore(cutoff int64, tx *text) (freed, oldest int64) {
	k := s.from(cutoff)
	for _, t := range s.few[:k] {
		freed += int64(len(t.member))
		if s.many != nil {
			delete(s.many, t.member)
		}
		tx.release(t.member)
	}
	n := copy(s.few, s.few[k:])
	clear(s.few[n:])
	s.few = s.few[:n]
	if n == 0 {
		return freed, math.MaxInt64
	}
	return freed, s.few[0].at
}

// text is where a sorted set's members are copied: chunks of bytes, filled
// in turn, each member a string pointing into one. A member copied apart
// was an allocation per new window member, the most frequent of the store
// (1.6 per event on the realistic month), and an object for the collector
// to mark. A window is mostly a queue (members join at the latest time and
// are trimmed from the earliest), so a chunk's members mostly leave
// together: each chunk counts the members pointing into it and is let go
// when none does. Bytes once written are never written again, so a string
// handed out (a window's sample) stays valid after its member leaves.
type text struct {
	chunks []textChunk // earliest first; the last is being filled
	held   int64       // bytes of the chunks
}

// textChunk is a chunk of a set's text and how many members point into it.
type textChunk struct {
	buf  []byte
	refs int
}

// A set's first chunk is minTextChunk bytes (most sets hold a few
// members); each next one is twice its predecessor, up to maxTextChunk. A
// member larger than that has a chunk of its own.
const (
	minTextChunk = 64
	maxTextChunk = 2048
)

// clone copies s into t and returns the copy.
func (t *text) clone(s string) string {
	if s == "" {
		return ""
	}
	n := len(t.chunks)
	if n == 0 || len(t.chunks[n-1].buf)+len(s) > cap(t.chunks[n-1].buf) {
		size := minTextChunk
		if n > 0 {
			size = min(2*cap(t.chunks[n-1].buf), maxTextChunk)
		}
		size = max(size, len(s))
		t.chunks = append(t.chunks, textChunk{buf: make([]byte, 0, size)})
		t.held += int64(size)
		n++
	}
	c := &t.chunks[n-1]
	from := len(c.buf)
	c.buf = append(c.buf, s...)
	c.refs++
	return unsafe.String(&c.buf[from], len(s))
}

// release notes that s, a copy clone returned, is no longer a member: its
// chunk is let go when no member points into it any more and it is not
// the one being filled.
func (t *text) release(s string) {
	if s == "" {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	for i := range t.chunks {
		c := &t.chunks[i]
		base := uintptr(unsafe.Pointer(unsafe.SliceData(c.buf)))
		if p < base || p >= base+uintptr(cap(c.buf)) {
			continue
		}
		if c.refs--; c.refs == 0 && i < len(t.chunks)-1 {
			t.held -= int64(cap(c.buf))
			t.chunks = slices.Delete(t.chunks, i, i+1)
		}
		return
	}
}

// same reports whether a and b are equal, comparing their last bytes
// before the rest: the names, identities and members a store compares
// share long prefixes (an ARN, a key's name up to its time window) and
// differ at their ends, where == (memeqbody) comes last. Two strings at
// one address are equal at once, where == would make its call: the
// operations of a batch name their identity with the caller's one string
// over and over.
func same(a, b string) bool {
	n := len(a)
	return n == len(b) && (n == 0 || unsafe.StringData(a) == unsafe.StringData(b) || a[n-1] == b[n-1] && a == b)
}
