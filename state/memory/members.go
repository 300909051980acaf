package memory

import (
	"iter"
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

// members is a set of members with times, in a slice while it is small
// (few) and in a map past fewMembers (many). Once a map, it stays one.
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

// len returns the number of members.
func (s *members) len() int {
	if s.many != nil {
		return len(s.many)
	}
	return len(s.few)
}

// all yields every member with its time, in no particular order.
func (s *members) all() iter.Seq2[string, int64] {
	return func(yield func(string, int64) bool) {
		if s.many != nil {
			for m, at := range s.many {
				if !yield(m, at) {
					return
				}
			}
			return
		}
		for _, t := range s.few {
			if !yield(t.member, t.at) {
				return
			}
		}
	}
}

// put records member at at, keeping the latest time, and reports whether
// the member is new. A new member is copied: the caller's string may be a
// slice of a large record, which the set would pin.
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

// dropBefore removes the members last seen before cutoff and returns the
// bytes of their names and the oldest time left (MaxInt64 when none).
func (s *members) dropBefore(cutoff int64) (freed, oldest int64) {
	oldest = 1<<63 - 1
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
