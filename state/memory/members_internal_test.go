package memory

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// model is the obvious set the sorted members must agree with: member →
// latest time, read by a scan and a sort.
type model map[string]int64

func (m model) window(from, to int64) []timed {
	var in []timed
	for k, at := range m {
		if at >= from && at <= to {
			in = append(in, timed{k, at})
		}
	}
	slices.SortFunc(in, func(a, b timed) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.member, b.member)) })
	return in
}

// TestSortedMembersMatchModel drives a sorted set and the model with the
// same random adds (times out of order, repeats), drops and span reads,
// across the move from slice only to slice and map.
func TestSortedMembersMatchModel(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		var s members
		var tx text
		m := model{}
		universe := 2 + r.IntN(2*fewSorted) // past fewSorted in about half the seeds
		for step := range 400 {
			switch op := r.IntN(10); {
			case op < 7:
				member, at := fmt.Sprintf("m%02d", r.IntN(universe)), int64(r.IntN(100))
				_, had := m[member]
				if added := s.putSorted(member, at, &tx); added == had {
					t.Fatalf("seed %d step %d: put(%s, %d) added=%v, the member was there: %v", seed, step, member, at, added, had)
				}
				m[member] = max(m[member], at)
			case op < 8:
				cutoff := int64(r.IntN(60))
				var want int64
				for k, at := range m {
					if at < cutoff {
						want += int64(len(k))
						delete(m, k)
					}
				}
				if freed, _ := s.dropSortedBefore(cutoff, &tx); freed != want {
					t.Fatalf("seed %d step %d: dropBefore(%d) freed %d bytes, want %d", seed, step, cutoff, freed, want)
				}
			default:
				from, to := int64(r.IntN(110)-5), int64(r.IntN(110)-5)
				want := m.window(from, to)
				lo, hi := s.span(from, to)
				if !slices.Equal(s.few[lo:hi], want) {
					t.Fatalf("seed %d step %d: span [%d, %d] = %v, want %v", seed, step, from, to, s.few[lo:hi], want)
				}
			}
			if s.len() != len(m) {
				t.Fatalf("seed %d step %d: len %d, want %d", seed, step, s.len(), len(m))
			}
			if refs, held := textFigures(&tx); refs != len(m) || held != tx.held {
				t.Fatalf("seed %d step %d: text chunks counted %d members and %d bytes, want %d and %d", seed, step, refs, held, len(m), tx.held)
			}
			for k, at := range m {
				if got, ok := s.get(k); !ok || got != at {
					t.Fatalf("seed %d step %d: get(%s) = %d, %v; want %d", seed, step, k, got, ok, at)
				}
			}
			if !slices.IsSortedFunc(s.few, func(a, b timed) int {
				return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.member, b.member))
			}) {
				t.Fatalf("seed %d step %d: members out of order: %v", seed, step, s.few)
			}
		}
	}
}

// textFigures recounts a text: the members its chunks count and its bytes.
func textFigures(t *text) (refs int, held int64) {
	for _, c := range t.chunks {
		refs += c.refs
		held += int64(cap(c.buf))
	}
	return refs, held
}

// TestSameIsEquality checks same against == on strings that differ
// anywhere, in length only, or not at all.
func TestSameIsEquality(t *testing.T) {
	for _, c := range [][2]string{
		{"", ""}, {"a", ""}, {"", "a"}, {"abc", "abc"}, {"abc", "abd"}, {"abc", "xbc"},
		{"abc", "ab"}, {"enum:w:100", "enum:w:101"}, {"enum:w:100", "enum:x:100"},
	} {
		if got, want := same(c[0], c[1]), c[0] == c[1]; got != want {
			t.Errorf("same(%q, %q) = %v, want %v", c[0], c[1], got, want)
		}
	}
}
