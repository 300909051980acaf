package builtin_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// crowdOnDays is n people signing in from a network of nets, chosen in
// turn, on each of the given days.
func crowdOnDays(n int, onDays []int, nets ...string) []dt.Rec {
	var out []dt.Rec
	for _, d := range onDays {
		for i := range n {
			out = append(out, samlSignIn(arsDay(d).Add(time.Duration(i)*time.Minute), fmt.Sprintf("person%03d@example.com", i),
				fmt.Sprintf(nets[i%len(nets)], i%250)))
		}
	}
	return out
}

// homeFor is subject signing in from the home ISP every day of [from, to).
func homeFor(subject string, from, to int) []dt.Rec {
	return days(from, to, func(at time.Time, d int) dt.Rec {
		return samlSignIn(at.Add(-2*time.Hour), subject, fmt.Sprintf("198.51.100.%d", 100+d))
	})
}

// thief is one attacker signing in with several people's stolen
// credentials from one network (ipFormat: another German ISP's, not a
// hosting one), each victim on its own day.
func thief(firstDay int, ipFormat string, victims ...string) []dt.Rec {
	var out []dt.Rec
	for i, v := range victims {
		out = append(out, samlSignIn(arsDay(firstDay+i).Add(3*time.Hour), v, fmt.Sprintf(ipFormat, 200+i)))
	}
	return out
}

// each wants a finding of sev on every one of recs.
func each(recs []dt.Rec, sev detectors.Severity) func([]dt.Rec) []want {
	return func([]dt.Rec) []want {
		var out []want
		for _, r := range recs {
			out = append(out, want{r.ID(), sev})
		}
		return out
	}
}

// settledScenarios are the rule that only colleagues who came back to a
// network on another day make it the organisation's.
func settledScenarios() []arsScenario {
	geo := arsGeoSettings()
	noDB := &detectors.Settings{}
	office := crowdOnDays(20, []int{0, 1}, "198.51.100.%d")
	victims := []string{"v1@example.com", "v2@example.com", "v3@example.com", "v4@example.com", "v5@example.com", "v6@example.com", "v7@example.com"}
	var established []dt.Rec
	for _, v := range victims {
		established = append(established, homeFor(v, 0, 9)...)
	}
	three := thief(8, "198.51.101.%d", "v1@example.com", "v2@example.com", "v3@example.com")
	seven := thief(9, "198.51.101.%d", victims...)
	noDBThree := thief(9, "192.0.2.%d", "v1@example.com", "v2@example.com", "v3@example.com")
	// The thief comes back with every key the next day (known to the
	// victim by then: no finding) so that each victim "uses" the network
	// on two days.
	var back []dt.Rec
	for i, r := range seven {
		back = append(back, samlSignIn(arsDay(10+i).Add(4*time.Hour), victims[i], r["sourceIPAddress"].(string)))
	}
	return []arsScenario{
		// The organisation knows its office ISP; three new hires in their
		// first week each lose their credentials to one thief on one
		// network, a victim a day.
		{"one network across three learning victims: every victim MEDIUM", geo,
			cat(office, homeFor("v1@example.com", 7, 9), homeFor("v2@example.com", 7, 10), homeFor("v3@example.com", 7, 11),
				three), each(three, detectors.SeverityMedium)},
		// Seven established victims: by the sixth, five others used the
		// network, but fewer than five for org_settle (4 days).
		{"one network across seven established victims: every victim MEDIUM", geo,
			cat(established, seven), each(seven, detectors.SeverityMedium)},
		{"one network across seven established victims, each key used again the next day: every victim MEDIUM", geo,
			cat(established, seven, back), each(seven, detectors.SeverityMedium)},
		{"without databases: one /16 across three established victims: every victim MEDIUM", noDB,
			cat(homeFor("v1@example.com", 0, 9), homeFor("v2@example.com", 0, 10), homeFor("v3@example.com", 0, 11),
				noDBThree), each(noDBThree, detectors.SeverityMedium)},
		// Quiet twins: colleagues who have used the network for days.
		{"a newcomer on an ISP five colleagues use over days is quiet while learning", geo,
			cat(office, crowdOnDays(5, []int{2, 3, 4}, "198.51.101.%d"), homeFor("alice@example.com", 0, 9),
				[]dt.Rec{samlSignIn(arsDay(9), "newhire@example.com", "198.51.101.77")}), arsNone},
		{"an established person on an ISP five colleagues use over days is LOW", geo,
			cat(homeFor("alice@example.com", 0, 9), crowdOnDays(5, []int{2, 3, 4}, "198.51.101.%d"),
				[]dt.Rec{samlSignIn(arsDay(9), "alice@example.com", "198.51.101.77")}), arsLast(detectors.SeverityLow)},
		{"without databases a /16 a colleague has used for days is LOW", noDB,
			cat(homeFor("alice@example.com", 0, 9), crowdOnDays(1, []int{1}, "192.0.2.%d"),
				[]dt.Rec{samlSignIn(arsDay(9), "alice@example.com", "192.0.2.66")}), arsLast(detectors.SeverityLow)},
	}
}

// runSettledScenarios runs each scenario sorted and then shuffled within
// the allowed lateness in random micro-batches: the findings are the same.
func runSettledScenarios(t *testing.T, newStore newStoreFunc) {
	for _, sc := range settledScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			stream := sortedByTime(sc.stream)
			ws := sc.want(stream)
			checkFindings(t, builtin.AssumeRoleUnexpectedSourceID,
				dt.NewWithStore(t, newStore(t), newARUSGeo(t, sc.settings)), stream, ws...)
			for seed := range uint64(3) {
				h := dt.NewWithStore(t, newStore(t), newARUSGeo(t, sc.settings))
				var got []want
				for _, v := range scored(scoreInBatches(h, deliver(stream, detectors.AllowedLateness, seed), seed)) {
					for _, f := range v.Findings {
						if f.DetectorID == builtin.AssumeRoleUnexpectedSourceID {
							got = append(got, want{v.EventID, f.Severity})
						}
					}
				}
				if !sameWants(got, ws) {
					t.Errorf("rule: shuffled within lateness gives the findings of sorted; seed %d: %v, want %v", seed, got, ws)
				}
			}
		})
	}
}

func sameWants(a, b []want) bool {
	key := func(w want) string { return w.event + " " + w.sev.String() }
	ka, kb := make([]string, 0, len(a)), make([]string, 0, len(b))
	for _, w := range a {
		ka = append(ka, key(w))
	}
	for _, w := range b {
		kb = append(kb, key(w))
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

func TestAssumeRoleUnexpectedSourceSettledNetworks(t *testing.T) {
	runSettledScenarios(t, memoryStore)
}

// TestAssumeRoleUnexpectedSourceSettledNetworksOnRedis runs the same on a
// real redis-server.
func TestAssumeRoleUnexpectedSourceSettledNetworksOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	runSettledScenarios(t, func(tb testing.TB) state.Store { return open(tb) })
}

func TestAssumeRoleUnexpectedSourceRejectsNegativeOrgSettle(t *testing.T) {
	_, err := builtin.NewAssumeRoleUnexpectedSource(det3Config(arsGeoSettings(), "org_settle: -1h"))
	var oe *detectors.OptionError
	if !errors.As(err, &oe) || oe.Key != "org_settle" {
		t.Errorf("rule: a negative org_settle is refused; got %v", err)
	}
}
