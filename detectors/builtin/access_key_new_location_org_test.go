package builtin_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// Generated scenarios: a key with no history of its own (never seen, or
// dormant past the 90-day window) whose first use comes from a hosting
// network. alice's key (history) keeps the tenant's clock running from
// day 0; bob is another IAM user of the account; carol's key is the
// organisation's automation, which runs on DigitalOcean (AS14061,
// 192.0.2.128/25 in hostingGeo) every day when the case says so.

// orgUserCall is the IAM user name's long-term key calling from ip.
func orgUserCall(name, key string, at time.Time, ip string) dt.Rec {
	return call(at, ip).
		With("userIdentity.accessKeyId", key).
		With("userIdentity.userName", name).
		With("userIdentity.arn", "arn:aws:iam::111122223333:user/"+name).
		With("userIdentity.principalId", "AIDAEXAMPLE"+strings.ToUpper(name)+"01")
}

func bobCall(at time.Time, ip string) dt.Rec {
	return orgUserCall("bob", "AKIAEXAMPLEBOB00001", at, ip)
}

// carolDays is carol's automation on DigitalOcean on days from..to.
func carolDays(from, to int) []dt.Rec {
	var out []dt.Rec
	for i := from; i <= to; i++ {
		out = append(out, orgUserCall("carol", "AKIAEXAMPLECAROL001", day(i).Add(2*time.Hour), "192.0.2.140"))
	}
	return out
}

// aliceDays is alice's office use on days from..to: the tenant's clock.
func aliceDays(from, to int) []dt.Rec {
	var out []dt.Rec
	for i := from; i <= to; i++ {
		out = append(out, call(day(i).Add(-4*time.Hour), "203.0.113.10"))
	}
	return out
}

type orgCase struct {
	name    string
	history []dt.Rec // scored first, in order
	attack  []dt.Rec // within minutes: scored in every order
	want    []string // sorted "identity new severity" incidents
}

func orgCases() []orgCase {
	at := day(9).Add(3 * time.Hour)
	bobKey := "access key AKIAEXAMPLEBOB00001 (a young key, judged on the history of its user arn:aws:iam::111122223333:user/bob)"
	daveKey := "access key AKIAEXAMPLEDAVE0001 (a young key, judged on the history of its user arn:aws:iam::111122223333:user/dave)"
	do := "ASN 14061 (DIGITALOCEAN-ASN) MEDIUM"
	thief := func(at time.Time) []dt.Rec {
		return []dt.Rec{bobCall(at, "192.0.2.200"), bobCall(at.Add(2*time.Minute), "192.0.2.200"), bobCall(at.Add(5*time.Minute), "192.0.2.201")}
	}
	// dormant is bob working from his home ISP on days 0..2 and alice
	// every day up to day 110: bob's places are forgotten after day 92
	// (his first-seen mark outlives them in the test stores, whose keys
	// expire in wall-clock time, so he is judged as an old key with
	// nothing known).
	dormant := append(aliceDays(0, 110), bobCall(day(0), "198.51.100.20"), bobCall(day(2), "198.51.100.21"))
	return []orgCase{
		{"a never-seen key first used from a VPS the organisation never uses is MEDIUM",
			aliceDays(0, 9), thief(at), []string{bobKey + " " + do}},
		{"quiet twin: the organisation runs automation on that provider",
			append(aliceDays(0, 9), carolDays(0, 9)...), thief(at), nil},
		{"quiet twin: a never-seen key from a residential ISP learns",
			aliceDays(0, 9), []dt.Rec{bobCall(at, "198.51.101.9")}, nil},
		{"quiet twin: the tenant's first week only learns",
			aliceDays(0, 3), thief(day(4)), nil},
		{"two stolen keys from one VPS raise both",
			aliceDays(0, 9), append(thief(at), orgUserCall("dave", "AKIAEXAMPLEDAVE0001", at.Add(3*time.Minute), "192.0.2.202")),
			[]string{bobKey + " " + do, daveKey + " " + do}},
		{"a key dormant past the window, back from a VPS, is MEDIUM",
			dormant, thief(day(110).Add(3 * time.Hour)), []string{"access key AKIAEXAMPLEBOB00001 " + do}},
		{"quiet twin: the dormant key back from a residential ISP learns",
			dormant, []dt.Rec{bobCall(day(110).Add(3*time.Hour), "198.51.101.9")}, nil},
		{"a key dormant for 60 days, back from a VPS, is HIGH on its own history",
			append(aliceDays(0, 70), bobCall(day(0), "198.51.100.20"), bobCall(day(9), "198.51.100.21")),
			thief(day(70).Add(3 * time.Hour)), []string{"access key AKIAEXAMPLEBOB00001 country NL, ASN 14061 (DIGITALOCEAN-ASN) HIGH"}},
	}
}

// orgIncidents are the sorted incidents of vs.
func orgIncidents(vs []engine.Verdict) []string {
	var out []string
	for _, f := range dt.Only(builtin.AccessKeyNewLocationID, vs) {
		out = append(out, f.Evidence["identity"]+" "+f.Evidence["new"]+" "+f.Severity.String())
	}
	slices.Sort(out)
	return out
}

func runOrgCases(t *testing.T, newStore newStoreFunc) {
	s := &detectors.Settings{GeoIP: hostingGeo}
	for _, c := range orgCases() {
		t.Run(c.name, func(t *testing.T) {
			fresh := func() *dt.Harness {
				h := dt.NewWithStore(t, newStore(t), newLocation(t, s))
				if got := orgIncidents(h.Stream(sortByTime(c.history)...)); len(got) != 0 {
					t.Fatalf("history raised %v", got)
				}
				return h
			}
			check := func(how string, vs []engine.Verdict) {
				t.Helper()
				if got := orgIncidents(vs); !slices.Equal(got, c.want) {
					t.Errorf("%s: rule: incidents do not depend on batching or order; got %q, want %q", how, got, c.want)
				}
			}
			check("one record at a time", fresh().Stream(c.attack...))
			check("one batch", fresh().Score(c.attack...))
			check("one batch, reversed", fresh().Score(reversed(c.attack)...))
			check("one at a time, reversed", fresh().Stream(reversed(c.attack)...))
			for seed := range uint64(4) {
				check(fmt.Sprintf("shuffled seed %d", seed), scoreInBatches(fresh(), deliver(c.attack, detectors.AllowedLateness, seed), seed))
			}
		})
	}
}

func TestAccessKeyNewLocationUnknownHosting(t *testing.T) { runOrgCases(t, memoryStore) }

func TestAccessKeyNewLocationUnknownHostingOnRedis(t *testing.T) { runOnRedis(t, runOrgCases) }

// TestAccessKeyNewLocationUnknownHostingOnRedisCluster: the tenant's clock
// and each hosting ASN's mark live on their own slots, apart from the
// identity's.
func TestAccessKeyNewLocationUnknownHostingOnRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cluster := redistest.StartCluster(t, 3)
	runOrgCases(t, func(tb testing.TB) state.Store { return rstore.Open(tb, cluster.URL(), rstore.Prefix()) })
}

// TestAccessKeyNewLocationUnknownHostingExplains: the finding says the key
// has no history and that the network is new to the whole organisation.
func TestAccessKeyNewLocationUnknownHostingExplains(t *testing.T) {
	h := dt.New(t, newLocation(t, &detectors.Settings{GeoIP: hostingGeo}))
	h.Stream(aliceDays(0, 9)...)
	fs := dt.Only(builtin.AccessKeyNewLocationID, h.Stream(bobCall(day(9).Add(3*time.Hour), "192.0.2.200")))
	if len(fs) != 1 {
		t.Fatalf("%d findings, want 1", len(fs))
	}
	f := fs[0]
	for _, part := range []string{"no history in the last 90 days", "192.0.2.200", "ASN 14061 (DIGITALOCEAN-ASN)",
		"no identity of the organisation used it in the last 90 days", "history since 2024-08-01T09:00:00Z"} {
		if !strings.Contains(f.Explanation, part) {
			t.Errorf("explanation lacks %q: %s", part, f.Explanation)
		}
	}
	for k, v := range map[string]string{"history": "none", "network_kind": "hosting", "asn": "14061", "asns_known": "0"} {
		if f.Evidence[k] != v {
			t.Errorf("evidence[%s] = %q, want %q", k, f.Evidence[k], v)
		}
	}
}
