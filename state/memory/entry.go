package memory

import (
	"math"
	"slices"
	"strings"
	"time"
)

// kind is what an entry holds. A key holds one kind at a time, like a Redis
// key holds one type; using it as another is an error, not a silent reset.
type kind uint8

const (
	kindValue kind = iota + 1 // Put, Claim, Get
	kindThrottle
	kindMark
	kindWindow
	kindNovelty
	kindBuckets
	kindWindowPair // a window (half 0) and its twin (half 1, in aux)
)

var kindNames = [...]string{"", "value", "throttle", "mark", "window", "novelty set", "buckets", "window pair"}

func (k kind) String() string { return kindNames[k] }

// introduction records which owner's add made a novelty member new, and
// when (wall clock, ns).
type introduction struct {
	member, owner string
	when          int64
}

// entry is the state under one name of an identity. Times are Unix
// nanoseconds: wall-clock for expires, event time for everything else.
type entry struct {
	name    string // the store's copy: interning names (unique.Make) cost a weak pointer per new name, and most are new (a name per time window)
	kind    kind
	peak    int32 // most members held: maps never shrink
	expires int64
	value   string         // value; throttle owner
	mark    int64          // mark: its event time; buckets: setBytes of every set
	oldest  int64          // no member (bucket start) is older: a lower bound
	members members        // window (sorted), novelty: member → latest event time
	intro   []introduction // novelty: who made a member new, for retries (a few at most)
	aux     *aux           // window: member text; buckets: the buckets (apart: slices here would push every entry into the next size class)
	strs    int64          // bytes of the member strings held
	bytes   int64          // cost as last accounted: set by add, kept by edit.done (the field fills the entry's size class)
}

func newEntry(name string, k kind) *entry {
	e := &entry{name: name, kind: k}
	switch k {
	case kindNovelty:
		e.oldest = math.MaxInt64
	case kindWindow, kindBuckets:
		e.aux, e.oldest = new(aux), math.MaxInt64
	case kindWindowPair:
		e.aux, e.oldest = &aux{twin: newEntry("", kindWindow)}, math.MaxInt64
	}
	return e
}

// sorted reports whether e's members are a window's, kept in time order:
// a window's, or the first half of a window pair's.
func (e *entry) sorted() bool { return e.kind == kindWindow || e.kind == kindWindowPair }

// addMember records member at event time at, keeping the latest time seen,
// and reports whether the member is new: only then can e's cost change.
func (e *entry) addMember(member string, at int64) (added bool) {
	if e.sorted() {
		added = e.members.putSorted(member, at, &e.aux.text)
	} else {
		added = e.members.put(member, at)
	}
	if added {
		e.strs += int64(len(member))
		e.peak = max(e.peak, int32(e.members.len()))
		if e.sorted() {
			e.compactText()
		}
	}
	e.oldest = min(e.oldest, at)
	return added
}

// compactText copies a window set's members into one fresh chunk once its
// chunks hold more than about four times their bytes: a member seen again
// and again keeps its chunk while the members around it leave.
func (e *entry) compactText() {
	t := &e.aux.text
	if t.held <= 4*e.strs+2*maxTextChunk {
		return
	}
	fresh := text{chunks: []textChunk{{buf: make([]byte, 0, e.strs+minTextChunk)}}}
	fresh.held = int64(cap(fresh.chunks[0].buf))
	s := &e.members
	for i := range s.few {
		s.few[i].member = fresh.clone(s.few[i].member)
	}
	if s.many != nil {
		clear(s.many)
		for _, m := range s.few {
			s.many[m.member] = m.at
		}
	}
	*t = fresh
}

// trim drops members older than cutoff. The oldest bound lets most calls
// return without scanning: only when the cutoff passes it can a member be
// due, and the scan then tightens the bound again. It reports whether it
// scanned: only then can e's cost change.
func (e *entry) trim(cutoff int64) (scanned bool) {
	if cutoff <= e.oldest {
		return false
	}
	var freed, oldest int64
	if e.sorted() {
		freed, oldest = e.members.dropSortedBefore(cutoff, &e.aux.text)
	} else {
		freed, oldest = e.members.dropBefore(cutoff)
	}
	e.strs -= freed
	e.oldest = oldest
	return true
}

// bucket is the distinct members of one time bucket. An entry keeps its
// buckets in a slice by start: it holds a few dozen at most (a history of
// days), added at the end as event time moves on and dropped from the
// front as it passes, and a history is then one walk along them, where a
// map by start took a lookup per bucket of the history.
type bucket struct {
	start int64
	set   map[string]struct{}
}

// aux is what some kinds of entry keep besides the fields every entry
// has: a window set's member text, a bucket entry's buckets (earliest
// first).
type aux struct {
	text    text
	buckets []bucket
	// twin is a window pair's second half: a window entry of no name,
	// outside its group, which lives and is accounted with the pair.
	twin *entry
}

// addToBucket adds member to the bucket starting at start.
func (e *entry) addToBucket(start int64, member string) {
	i := len(e.aux.buckets)
	for i > 0 && e.aux.buckets[i-1].start > start {
		i-- // a late event: its bucket is a few from the end at most
	}
	if i == 0 || e.aux.buckets[i-1].start != start {
		e.aux.buckets = slices.Insert(e.aux.buckets, i, bucket{start: start, set: make(map[string]struct{})})
		e.mark += setBytes(0)
		i++
	}
	set := e.aux.buckets[i-1].set
	if _, ok := set[member]; !ok {
		before := setBytes(len(set))
		set[strings.Clone(member)] = struct{}{}
		e.strs += int64(len(member))
		e.mark += setBytes(len(set)) - before
	}
	e.oldest = min(e.oldest, start)
}

// trimBuckets drops the buckets of width w that ended by cutoff, skipping
// the scan while the oldest bound shows none did.
func (e *entry) trimBuckets(cutoff, w int64) {
	if e.oldest > cutoff-w {
		return
	}
	k := 0
	for ; k < len(e.aux.buckets) && e.aux.buckets[k].start+w <= cutoff; k++ {
		for m := range e.aux.buckets[k].set {
			e.strs -= int64(len(m))
		}
		e.mark -= setBytes(len(e.aux.buckets[k].set))
	}
	n := copy(e.aux.buckets, e.aux.buckets[k:])
	clear(e.aux.buckets[n:])
	e.aux.buckets = e.aux.buckets[:n]
	e.oldest = math.MaxInt64
	if n > 0 {
		e.oldest = e.aux.buckets[0].start
	}
}

// history returns the member counts of the n buckets of width w ending with
// the one starting at last, oldest first.
func (e *entry) history(last, w int64, n int, x *scratch) []int {
	out := x.counts(n)
	if e == nil || n == 0 {
		return out
	}
	// A walk back over the buckets held, latest first, rather than over
	// the history's n: an entry holds the buckets of the days it saw
	// activity, a few of a history of weeks (history was 0.8 % of a
	// scan's instructions, a step per day of every history).
	first := last - int64(n-1)*w
	for j := len(e.aux.buckets) - 1; j >= 0; j-- {
		b := &e.aux.buckets[j]
		if b.start < first {
			break
		}
		if d := last - b.start; d >= 0 && d%w == 0 {
			out[n-1-int(d/w)] = len(b.set)
		}
	}
	return out
}

// bytesOf returns a copy of a stored value. It never returns nil, so an
// empty value stays distinguishable from an absent one.
func bytesOf(v string) []byte {
	return append(make([]byte, 0, len(v)), v...)
}

func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// forgetIntros drops the introductions made before cutoff (wall clock):
// too old to be retried. It reports whether it dropped any.
func (e *entry) forgetIntros(cutoff int64) (dropped bool) {
	// Most calls drop none (a novelty add with an owner calls it every
	// time): only from the first to drop on is the slice rewritten.
	i := 0
	for i < len(e.intro) && e.intro[i].when >= cutoff {
		i++
	}
	if i == len(e.intro) {
		return false
	}
	kept := e.intro[:i]
	for _, in := range e.intro[i:] {
		if in.when >= cutoff {
			kept = append(kept, in)
		} else {
			e.strs -= int64(len(in.member) + len(in.owner))
		}
	}
	dropped = len(kept) < len(e.intro)
	clear(e.intro[len(kept):])
	e.intro = kept
	return dropped
}

// introduce records that owner's add made member new at now.
func (e *entry) introduce(member, owner string, now int64) {
	if in := e.introduction(member); in != nil {
		e.strs += int64(len(owner) - len(in.owner))
		in.owner, in.when = strings.Clone(owner), now
		return
	}
	e.intro = append(e.intro, introduction{member: strings.Clone(member), owner: strings.Clone(owner), when: now})
	e.strs += int64(len(member) + len(owner))
}

// introduction returns member's introduction, or nil.
func (e *entry) introduction(member string) *introduction {
	for i := range e.intro {
		if e.intro[i].member == member {
			return &e.intro[i]
		}
	}
	return nil
}
