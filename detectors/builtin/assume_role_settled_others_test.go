package builtin

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
)

// TestSettledOthersCountsDistinctPeople checks settledOthers against the
// plain count (a map of the people other than self whose day is at or
// before since's), on few people and on more than its table holds,
// with malformed members among them, and people whose ids share
// their length and tail with others' and with self's.
func TestSettledOthersCountsDistinctPeople(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 13))
	since := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	for _, people := range []int{0, 1, 5, 16, 17, 40, 255, 256, 257, 400} {
		for range 50 {
			var members []string
			for range rng.IntN(300 + 3*people) {
				switch rng.IntN(20) {
				case 0:
					members = append(members, "no-separator")
				case 1:
					members = append(members, "u-self|2026-03-01")
				default:
					// People of one length and tail, as ARNs of one
					// account are, and people whose tail is self's.
					p := fmt.Sprintf("%c-person-%d", 'a'+rng.IntN(3), rng.IntN(max(people, 1)))
					if rng.IntN(10) == 0 {
						p = string(rune('u'+rng.IntN(3))) + "-self"
					}
					day := since.AddDate(0, 0, rng.IntN(20)-15).Format("2006-01-02")
					members = append(members, p+"|"+day)
				}
			}
			want := map[string]bool{}
			for _, m := range members {
				i := strings.LastIndexByte(m, '|')
				if i >= 0 && m[:i] != "u-self" && m[i+1:] <= "2026-03-10" {
					want[m[:i]] = true
				}
			}
			if got := settledOthers(members, "u-self", since); got != len(want) {
				t.Fatalf("%d people, %d members: settledOthers = %d, want %d", people, len(members), got, len(want))
			}
		}
	}
}

// TestSignInSourceHoldsEverySource: the switch Observe filters on first
// lets through the source of every sign-in event it judges.
func TestSignInSourceHoldsEverySource(t *testing.T) {
	for name, src := range assumeRoleSources {
		if !signInSource(src) {
			t.Errorf("signInSource(%q) = false, but %s comes from it", src, name)
		}
	}
}

// TestVerdictWeighsSettledOnlyOnANewNetwork: a sign-in from a network the
// person knows gets the same verdict whatever the count of settled
// colleagues, which Findings therefore counts only for a new network or a
// finding (signIn.settle).
func TestVerdictWeighsSettledOnlyOnANewNetwork(t *testing.T) {
	d, err := NewAssumeRoleUnexpectedSource(detectors.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []detectors.NetworkKind{detectors.NetworkHosting, detectors.NetworkAWS, 0} {
		for _, member := range []string{"asn:3320", "net:198.51.0.0/16"} {
			for bitsSet := range 1 << 7 {
				bit := func(i int) bool { return bitsSet&(1<<i) != 0 }
				s := &signIn{d: d.(*AssumeRoleUnexpectedSource), who: signInWho{human: bit(0)},
					net: signInNet{member: member, kind: kind, country: "DE"}}
				st := signInState{countryNew: bit(1), roleNew: bit(2), established: bit(3), leftAWS: bit(4),
					orgEstablished: bit(5), gap: time.Duration(bitsSet%3-1) * time.Hour, nets: 2 * (bitsSet >> 6)}
				want, wantWhy := s.verdict(st)
				for _, settled := range []int{1, 4, 5, 50} {
					st.orgSettled = settled
					if got, why := s.verdict(st); got != want || !slices.Equal(why, wantWhy) {
						t.Fatalf("known network, %+v: verdict %v %q with %d settled, %v %q with none", st, got, why, settled, want, wantWhy)
					}
				}
			}
		}
	}
}
