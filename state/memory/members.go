package memory

import (
	"math"
	"slices"
	"strings"
)

// fewMembers is how many members a set holds in a slice before it moves to
// a map. Most sets of an identity (its networks, its recent actions) hold a
// few members: a slice of them, searched in order, takes a tenth of the
// bytes of the smallest map (256) and is as fast to search at this size.
const fewMembers = 8

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
// per read; past fewMembers, many indexes the members' times as well.
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
		if t.member == member {
			return t.at, true
		}
	}
	return 0, false
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
		if s.few[i].member == member {
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
// insertion of a new member usually end at the tail.
func (s *members) putSorted(member string, at int64) (added bool) {
	if n := len(s.few); n > 0 && s.few[n-1].member == member {
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
	prev, ok := s.get(member)
	if ok {
		if at <= prev {
			return false
		}
		i := s.search(prev, member) // where member is: (prev, member) is in few
		stored := s.few[i].member
		j := s.search(at, member) // where it goes, past i
		copy(s.few[i:j-1], s.few[i+1:j])
		s.few[j-1] = timed{stored, at}
		if s.many != nil {
			s.many[stored] = at
		}
		return false
	}
	m := strings.Clone(member)
	s.few = slices.Insert(s.few, s.search(at, m), timed{m, at})
	switch {
	case s.many != nil:
		s.many[m] = at
	case len(s.few) > fewMembers:
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
	if from > to {
		return 0, 0
	}
	return s.search(from, ""), s.after(to)
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
// prefix of few.
func (s *members) dropSortedBefore(cutoff int64) (freed, oldest int64) {
	k := s.search(cutoff, "")
	for _, t := range s.few[:k] {
		freed += int64(len(t.member))
		if s.many != nil {
			delete(s.many, t.member)
		}
	}
	n := copy(s.few, s.few[k:])
	clear(s.few[n:])
	s.few = s.few[:n]
	if n == 0 {
		return freed, math.MaxInt64
	}
	return freed, s.few[0].at
}
