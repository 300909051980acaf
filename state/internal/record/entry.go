package record

import (
	"encoding/binary"
	"hash/maphash"
	"slices"
	"strings"

	"github.com/iamsentry/iamsentry/state"
)

// What each kind of entry does to its members: windows, novelty sets and
// buckets.

// trimWindow drops window members older than cutoff, a prefix, and
// reports whether it dropped any.
func (e *entry) trimWindow(cutoff int64) bool {
	n := 0
	for n < len(e.window) && e.window[n].at < cutoff {
		n++
	}
	if n > 0 {
		e.window = append(e.window[:0], e.window[n:]...)
	}
	return n > 0
}

// addWindow records member at at, keeping the latest time seen, in order,
// and reports whether the window changed.
func (e *entry) addWindow(member string, at int64) bool {
	stored, found, tag := "", false, memberTag(member)
	for i := range e.window {
		t := &e.window[i]
		if t.tag != tag || t.member != member {
			continue
		}
		if at <= t.at {
			return false
		}
		stored, found = t.member, true // keep the stored copy
		e.window = append(e.window[:i], e.window[i+1:]...)
		break
	}
	if !found {
		stored = strings.Clone(member) // the caller's may pin a large record
	}
	e.window = slices.Insert(e.window, search(e.window, at, stored), timed{member: stored, at: at, tag: tag})
	return true
}

// memberTag is a hash of a window member that every timed keeps beside
// it. Finding a member in a window compared every member of its length
// by its bytes: members are ARNs, addresses and agents, many of one
// length, read through a pointer each (a cache miss apiece; the scan was
// 7 % of the server's CPU at 20k events/s on Redis). Comparing tags reads
// only the window's own array; a member is compared whole only when its
// tag matches. The tag is never stored: it is computed from the member
// whenever a timed is made (addWindow, decoding), which
// TestWindowTagsMatchMembers checks.
func memberTag(member string) uint32 {
	return uint32(maphash.String(memoSeed, member))
}

// search returns the index of the first member not before (at, member) in
// time-then-member order.
func search(w []timed, at int64, member string) int {
	lo, hi := 0, len(w)
	if hi > 0 && less(w[hi-1], at, member) {
		return hi
	}
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if less(w[mid], at, member) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func less(t timed, at int64, member string) bool {
	return t.at < at || (t.at == at && t.member < member)
}

// span returns the bounds [lo, hi) of the members whose time lies in
// [from, to].
func (e *entry) span(from, to int64) (lo, hi int) {
	if from > to {
		return 0, 0
	}
	lo = search(e.window, from, "")
	hi = lo
	for hi < len(e.window) && e.window[hi].at <= to {
		hi++
	}
	return lo, hi
}

func (e *entry) windowOf(sp state.Span, limit int) state.Window {
	if e == nil {
		return state.Window{}
	}
	lo, hi := e.span(sp.From.UnixNano(), sp.To.UnixNano())
	w := state.Window{Count: hi - lo}
	if limit <= 0 || hi == lo {
		return w
	}
	w.Members = make([]string, min(limit, hi-lo))
	for i := range w.Members {
		w.Members[i] = e.window[lo+i].member
	}
	return w
}

// trimNovelty forgets members last seen before cutoff and reports whether
// it forgot any.
func (e *entry) trimNovelty(cutoff int64) bool {
	kept := e.novelty[:0]
	for _, s := range e.novelty {
		if s.at >= cutoff {
			kept = append(kept, s)
		}
	}
	forgot := len(kept) < len(e.novelty)
	e.novelty = kept
	return forgot
}

// novel returns the position of member in the novelty set, or -1.
func (e *entry) novel(member uint64) int {
	for i, s := range e.novelty {
		if s.member == member {
			return i
		}
	}
	return -1
}

func (e *entry) introduction(member uint64) *intro {
	for i := range e.intros {
		if e.intros[i].member == member {
			return &e.intros[i]
		}
	}
	return nil
}

// setIntro records in as its member's introduction, in place of an
// earlier one.
func (e *entry) setIntro(in intro) {
	if p := e.introduction(in.member); p != nil {
		*p = in
	} else {
		e.intros = append(e.intros, in)
	}
}

func (e *entry) forgetIntros(cutoff int64) bool {
	kept := e.intros[:0]
	for _, in := range e.intros {
		if in.when >= cutoff {
			kept = append(kept, in)
		}
	}
	forgot := len(kept) < len(e.intros)
	e.intros = kept
	return forgot
}

// bucketKey is the 6-byte digest of member kept in a bucket: the first
// bytes of its SHA-256, which are Digest's leading bytes, so the memo of
// recurring names serves it (a bucket's members are API actions and
// roles, which recur).
func bucketKey(member string) [bucketDigest]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], memoDigest(member))
	return [bucketDigest]byte(b[:bucketDigest])
}

// addDigest adds the member of digest d (bucketKey) to the bucket
// starting at start and reports whether it was new there.
func (e *entry) addDigest(start int64, d [bucketDigest]byte) bool {
	i := 0
	for i < len(e.buckets) && e.buckets[i].start < start {
		i++
	}
	if i == len(e.buckets) || e.buckets[i].start != start {
		e.buckets = append(e.buckets, bucket{})
		copy(e.buckets[i+1:], e.buckets[i:])
		e.buckets[i] = bucket{start: start}
	}
	b := &e.buckets[i]
	n := len(b.members) / bucketDigest
	lo, hi := 0, n
	for lo < hi {
		mid := (lo + hi) / 2
		if string(b.members[mid*bucketDigest:(mid+1)*bucketDigest]) < string(d[:]) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	at := lo * bucketDigest
	if lo < n && string(b.members[at:at+bucketDigest]) == string(d[:]) {
		return false
	}
	b.members = append(b.members, d[:]...)
	copy(b.members[at+bucketDigest:], b.members[at:len(b.members)-bucketDigest])
	copy(b.members[at:], d[:])
	return true
}

// trimBuckets drops the buckets of width w that ended by cutoff and
// reports whether it dropped any.
func (e *entry) trimBuckets(cutoff, w int64) bool {
	n := 0
	for n < len(e.buckets) && e.buckets[n].start+w <= cutoff {
		n++
	}
	if n > 0 {
		e.buckets = append(e.buckets[:0], e.buckets[n:]...)
	}
	return n > 0
}

// history returns the member counts of the n buckets of width w ending
// with the one starting at last, oldest first.
func (e *entry) history(last, w int64, n int) []int {
	out := make([]int, n)
	if e == nil {
		return out
	}
	for i := range out {
		start := last - int64(n-1-i)*w
		for _, b := range e.buckets {
			if b.start == start {
				out[i] = len(b.members) / bucketDigest
				break
			}
		}
	}
	return out
}
