package builtin_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/detectors/geoip"
	"github.com/iamsentry/iamsentry/detectors/geoip/geoiptest"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/state/memory"
)

// Generated streams. The fake GeoIP table below places documentation
// ranges: alice's office (US, AS64500), her home ISP (DE, AS3320), a second
// German ISP, an unfamiliar country (RU), and IPv6 ranges.
var geoTable = fakeGeo{
	"203.0.113.0/24":  {Country: "US", ASN: 64500, ASNOrg: "Example Office Net"},
	"198.51.100.0/24": {Country: "DE", ASN: 3320, ASNOrg: "Deutsche Telekom AG"},
	"198.51.101.0/24": {Country: "DE", ASN: 3209, ASNOrg: "Vodafone GmbH"},
	"192.0.2.0/24":    {Country: "RU", ASN: 64511, ASNOrg: "Example Hosting"},
	"2001:db8:1::/48": {Country: "DE", ASN: 3320, ASNOrg: "Deutsche Telekom AG"},
	"2001:db8:2::/48": {Country: "JP", ASN: 2497, ASNOrg: "IIJ"},
}

func geoSettings() *detectors.Settings { return &detectors.Settings{GeoIP: geoTable} }

func newLocation(t testing.TB, s *detectors.Settings) detectors.Detector {
	t.Helper()
	d, err := builtin.NewAccessKeyNewLocation(detectors.Config{Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// call is alice (long-term key) calling from ip at at.
func call(at time.Time, ip string) dt.Rec {
	return dt.Base("s3.amazonaws.com", "ListBuckets", at).With("sourceIPAddress", ip)
}

// roleCall is a session of role named session calling from ip; every
// session has its own temporary key.
func roleCall(at time.Time, role, session, ip string) dt.Rec {
	return call(at, ip).AsAssumedRole(role, session).With("userIdentity.accessKeyId", "ASIA"+strings.ToUpper(session)+"0000000")
}

// personCall is alice's IAM Identity Center session calling from ip, with
// one session key.
func personCall(at time.Time, ip string) dt.Rec {
	return call(at, ip).AsAssumedRole("AWSReservedSSO_Developer_0a1b2c3d4e5f6a7b", "alice@example.com").
		With("userIdentity.accessKeyId", "ASIAALICESESSION0001")
}

// history is a workday pattern from day 0 to day n−1: office at 09:00,
// home ISP (a different address each evening) at 20:00.
func history(n int) []dt.Rec {
	var out []dt.Rec
	for i := range n {
		out = append(out,
			call(day(i).Add(-4*time.Hour), "203.0.113.10"), // 09:00
			call(day(i).Add(7*time.Hour), fmt.Sprintf("198.51.100.%d", 20+i)))
	}
	return out
}

func TestAccessKeyNewLocationContract(t *testing.T) {
	stream := append(history(8), call(day(8), "192.0.2.66"))
	dt.Run(t, dt.Contract{
		New:   func() detectors.Detector { return newLocation(t, geoSettings()) },
		Loud:  stream,
		Quiet: append(history(8), call(day(8), "198.51.100.200")),
		Unrelated: []dt.Rec{
			call(t0, "10.1.2.3"),
			call(t0, "kms.amazonaws.com"),
			call(t0, "AWS Internal"),
			call(t0, "203.0.113.10").With("userIdentity.invokedBy", "cloudformation.amazonaws.com"),
			call(t0, "203.0.113.10").Failed("InvalidClientTokenId"),
		},
	})
}

func TestAccessKeyNewLocationScenarios(t *testing.T) {
	runNewLocationScenarios(t, memoryStore)
}

// runNewLocationScenarios runs every scenario on stores from newStore.
func runNewLocationScenarios(t *testing.T, newStore newStoreFunc) {
	type scenario struct {
		name     string
		settings *detectors.Settings
		stream   []dt.Rec
		want     func(stream []dt.Rec) []want // expected findings
	}
	last := func(sev detectors.Severity) func([]dt.Rec) []want {
		return func(s []dt.Rec) []want { return []want{{s[len(s)-1].ID(), sev}} }
	}
	none := func([]dt.Rec) []want { return nil }
	scenarios := []scenario{
		{"home ISP, new IP, same ASN is silent", geoSettings(),
			append(history(10), call(day(10), "198.51.100.250")), none},
		{"new country after 8 days is HIGH", geoSettings(),
			append(history(8), call(day(8), "192.0.2.66")), last(detectors.SeverityHigh)},
		{"new ASN in a known country is HIGH", geoSettings(),
			append(history(8), call(day(8), "198.51.101.9")), last(detectors.SeverityHigh)},
		{"warm-up week of office, home and travel is silent", geoSettings(),
			append(history(5), call(day(5), "198.51.101.9"), call(day(6), "192.0.2.66"), call(day(6).Add(time.Hour), "2001:db8:2::5")), none},
		{"one finding per new place", geoSettings(),
			append(history(8), call(day(8), "192.0.2.66"), call(day(8).Add(time.Minute), "192.0.2.67"), call(day(9), "192.0.2.68")),
			func(s []dt.Rec) []want { return []want{{s[16].ID(), detectors.SeverityHigh}} }},
		{"without databases a new /16 is MEDIUM", &detectors.Settings{},
			append(history(8), call(day(8), "198.18.7.7"), call(day(8).Add(time.Hour), "192.0.2.66")),
			func(s []dt.Rec) []want {
				return []want{{s[16].ID(), detectors.SeverityMedium}, {s[17].ID(), detectors.SeverityMedium}}
			}},
		{"without databases a new address in a known /16 is silent", &detectors.Settings{},
			append(history(8), call(day(8), "198.51.250.1")), none},
		{"IPv6 new country is HIGH", geoSettings(),
			append(ipv6History(8), call(day(8), "2001:db8:1::99"), call(day(8).Add(time.Hour), "2001:db8:2::5")), last(detectors.SeverityHigh)},
		{"IPv6 without databases compares /32s", &detectors.Settings{},
			append(ipv6History(8), call(day(8), "2001:db8:2::5"), call(day(8).Add(time.Hour), "2001:db9::1")), last(detectors.SeverityMedium)},
		{"private, loopback, link-local and CGNAT sources are skipped", geoSettings(),
			append(history(8), call(day(8), "10.0.0.5"), call(day(8), "172.16.3.4"), call(day(8), "192.168.1.1"),
				call(day(8), "100.64.1.1"), call(day(8), "127.0.0.1"), call(day(8), "fe80::1"), call(day(8), "fd00::1"),
				call(day(8), "::ffff:10.0.0.9")), none},
		{"AWS service callers are skipped", geoSettings(),
			append(history(8), call(day(8), "ec2.amazonaws.com"), call(day(8), "AWS Internal"),
				call(day(8), "192.0.2.66").With("userIdentity.invokedBy", "cloudformation.amazonaws.com"),
				call(day(8), "192.0.2.66").With("userIdentity", map[string]any{"type": "AWSService", "invokedBy": "lambda.amazonaws.com"})), none},
		{"calls failing authentication are skipped, denied calls are not", geoSettings(),
			append(history(8), call(day(8), "192.0.2.66").Failed("InvalidClientTokenId"), call(day(8).Add(time.Minute), "192.0.2.66").Failed("AccessDenied")),
			last(detectors.SeverityHigh)},
		{"trusted networks are skipped", &detectors.Settings{GeoIP: geoTable, TrustedCIDRs: trusted("192.0.2.0/24")},
			append(history(8), call(day(8), "192.0.2.66")), none},
		{"assumed-role baseline survives new session names", geoSettings(),
			append(roleHistory(8), roleCall(day(8), "deploy", "brand-new-session", "203.0.113.77")), none},
		// A workload role's sessions are workload-credentials-off-workload's;
		// judged by the role, every runner would be a new place.
		{"a workload role's session from a new country is not this detector's", geoSettings(),
			append(roleHistory(8), roleCall(day(8), "deploy", "another-session", "192.0.2.66")), none},
		// A person's session key replayed elsewhere mid-session.
		{"a person's session key moving to another country is HIGH", geoSettings(),
			[]dt.Rec{personCall(t0, "203.0.113.10"), personCall(t0.Add(20*time.Minute), "192.0.2.66")}, last(detectors.SeverityHigh)},
		{"a person's session key moving between ISPs of one country is quiet", geoSettings(),
			[]dt.Rec{personCall(t0, "198.51.100.20"), personCall(t0.Add(20*time.Minute), "198.51.101.9")}, none},
		{"a person's session key starting abroad is quiet (the sign-in is judged)", geoSettings(),
			[]dt.Rec{personCall(t0, "192.0.2.66"), personCall(t0.Add(20*time.Minute), "192.0.2.67")}, none},
		{"a new long-term key inherits its user's history: new country is HIGH at once", geoSettings(),
			append(history(8), call(day(8), "192.0.2.66").With("userIdentity.accessKeyId", "AKIAEXAMPLEALICE02")), last(detectors.SeverityHigh)},
		{"a new long-term key used from its user's usual place is quiet", geoSettings(),
			append(history(8), call(day(8), "203.0.113.10").With("userIdentity.accessKeyId", "AKIAEXAMPLEALICE02")), none},
		{"a new key of a young user still warms up", geoSettings(),
			append(history(3), call(day(3), "192.0.2.66").With("userIdentity.accessKeyId", "AKIAEXAMPLEALICE02")), none},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			h := dt.NewWithStore(t, newStore(t), newLocation(t, sc.settings))
			checkFindings(t, builtin.AccessKeyNewLocationID, h, sc.stream, sc.want(sc.stream)...)
		})
	}
}

func ipv6History(n int) []dt.Rec {
	var out []dt.Rec
	for i := range n {
		out = append(out, call(day(i), fmt.Sprintf("2001:db8:1::%x", i+1)))
	}
	return out
}

// roleHistory is a deploy role used from the office, one session a day,
// each with its own name and temporary key.
func roleHistory(n int) []dt.Rec {
	var out []dt.Rec
	for i := range n {
		out = append(out, roleCall(day(i), "deploy", fmt.Sprintf("ci-run-%d", i), "203.0.113.40"))
	}
	return out
}

func trusted(cidrs ...string) (out []netip.Prefix) {
	for _, c := range cidrs {
		out = append(out, netip.MustParsePrefix(c))
	}
	return out
}

func TestAccessKeyNewLocationExplains(t *testing.T) {
	store := memory.New()
	defer store.Close()
	h := dt.NewWithStore(t, store, newLocation(t, geoSettings()))
	stream := append(history(8), call(day(8), "192.0.2.66"))
	fs := dt.Only(builtin.AccessKeyNewLocationID, h.Stream(stream...))
	if len(fs) != 1 {
		t.Fatalf("%d findings, want 1", len(fs))
	}
	f := fs[0]
	want := "access key AKIAEXAMPLEALICE01 was used from 192.0.2.66 in new country RU and ASN 64511 (Example Hosting); " +
		"in the last 90 days it was seen from 2 other countries and 2 other ASNs only (history since 2024-08-01T09:00:00Z, 8.2 days of history)"
	if f.Explanation != want {
		t.Errorf("explanation:\n got %s\nwant %s", f.Explanation, want)
	}
	for k, v := range map[string]string{"country": "RU", "asn": "64511", "countrys_known": "2", "identity": "access key AKIAEXAMPLEALICE01"} {
		if f.Evidence[k] != v {
			t.Errorf("evidence[%s] = %q, want %q", k, f.Evidence[k], v)
		}
	}
	if len(f.Techniques) != 1 || f.Techniques[0] != "T1078.004" {
		t.Errorf("techniques %v", f.Techniques)
	}
	// Nothing reads a mark of the raise any more: raising writes no state
	// beyond the finding's throttle.
	if len(f.Marks) != 0 {
		t.Errorf("finding sets marks %+v, want none", f.Marks)
	}
}

func TestAccessKeyNewLocationNotes(t *testing.T) {
	if n := newLocation(t, geoSettings()).(detectors.Notable).Notes(); len(n) != 0 {
		t.Errorf("with GeoIP: notes %v, want none", n)
	}
	n := newLocation(t, &detectors.Settings{}).(detectors.Notable).Notes()
	if len(n) != 1 || !strings.Contains(n[0], "no GeoIP database") || !strings.Contains(n[0], "/16") {
		t.Errorf("without GeoIP: notes %v, want one saying it falls back to /16 prefixes", n)
	}
}

// TestAccessKeyNewLocationShuffled delivers the same streams late and out of
// order (each record up to 15 minutes after its event time) and wants the
// same incidents: which identity was seen in which new place. The event a
// finding lands on may change (the first sighting of a place to be scored
// wins), the incidents may not. Warm-up is measured in event time from the
// earliest sighting (a KeepEarliest mark), so a late first record does not
// restart it.
func TestAccessKeyNewLocationShuffled(t *testing.T) {
	var stream []dt.Rec
	for i := range 10 {
		for m := 0; m < 60; m += 5 { // a busy hour at the office and a busy evening at home
			stream = append(stream, call(day(i).Add(-4*time.Hour+time.Duration(m)*time.Minute), "203.0.113.10"))
			stream = append(stream, call(day(i).Add(7*time.Hour+time.Duration(m)*time.Minute), fmt.Sprintf("198.51.100.%d", 20+i)))
		}
		stream = append(stream, roleCall(day(i), "deploy", fmt.Sprintf("ci-run-%d", i), "203.0.113.40"))
	}
	for m := 0; m < 20; m += 2 { // the attack: a burst from two new places
		stream = append(stream, call(day(10).Add(time.Duration(m)*time.Minute), "192.0.2.66"))
		stream = append(stream, roleCall(day(10).Add(time.Duration(m)*time.Minute), "deploy", "x", "198.51.101.9"))
	}
	stream = sortByTime(stream)
	incidents := func(order []dt.Rec) []string {
		h := dt.New(t, newLocation(t, geoSettings()))
		var out []string
		for _, f := range dt.Only(builtin.AccessKeyNewLocationID, h.Stream(order...)) {
			out = append(out, f.Evidence["identity"]+" "+f.Evidence["new"]+" "+f.Severity.String())
		}
		slices.Sort(out)
		return out
	}
	inOrder := incidents(stream)
	if len(inOrder) != 1 { // the key's; the deploy role's sessions are workload-credentials-off-workload's
		t.Fatalf("in order: incidents %v, want 1", inOrder)
	}
	for seed := range uint64(5) {
		if got := incidents(shuffleWithin(stream, 15*time.Minute, seed)); !slices.Equal(got, inOrder) {
			t.Errorf("seed %d: incidents %v, want %v", seed, got, inOrder)
		}
	}
}

func TestAccessKeyNewLocationOptions(t *testing.T) {
	decoder := func(set func(*builtin.AccessKeyNewLocationOptions)) detectors.Decoder {
		return func(v any) error { set(v.(*builtin.AccessKeyNewLocationOptions)); return nil }
	}
	_, err := builtin.NewAccessKeyNewLocation(detectors.Config{Settings: &detectors.Settings{},
		Options: decoder(func(o *builtin.AccessKeyNewLocationOptions) {
			o.Window, o.WarmUp, o.IPv4Prefix, o.IPv6Prefix, o.FallbackSeverity = 0, time.Hour, 40, 8, 0
		})})
	var keys []string
	for _, e := range unjoin(err) {
		oe, ok := errors.AsType[*detectors.OptionError](e)
		if !ok {
			t.Fatalf("%v is not an *OptionError", e)
		}
		keys = append(keys, oe.Key)
	}
	slices.Sort(keys)
	if want := []string{"fallback_severity", "ipv4_prefix", "ipv6_prefix", "warm_up", "window"}; !slices.Equal(keys, want) {
		t.Errorf("bad keys %v, want %v (err: %v)", keys, want, err)
	}
	d, err := builtin.NewAccessKeyNewLocation(detectors.Config{Settings: &detectors.Settings{},
		Options: decoder(func(o *builtin.AccessKeyNewLocationOptions) { o.WarmUp = 0; o.IPv4Prefix = 24 })})
	if err != nil {
		t.Fatal(err)
	}
	// No warm-up and /24 prefixes: the second /24 raises at once.
	stream := []dt.Rec{call(t0, "198.51.100.1"), call(t0.Add(time.Hour), "198.51.101.1"), call(t0.Add(2*time.Hour), "198.51.101.2")}
	checkFindings(t, builtin.AccessKeyNewLocationID, dt.New(t, d), stream, want{stream[1].ID(), detectors.SeverityMedium})
}

// TestAccessKeyNewLocationWithMaxMindDB runs the detector on real MaxMind
// files (written at test time) opened by package geoip.
func TestAccessKeyNewLocationWithMaxMindDB(t *testing.T) {
	db, err := geoip.Open(
		geoiptest.Write(t, "GeoLite2-Country",
			geoiptest.Net{Prefix: "203.0.113.0/24", Country: "US"}, geoiptest.Net{Prefix: "198.51.100.0/24", Country: "DE"},
			geoiptest.Net{Prefix: "192.0.2.0/24", RegisteredCountry: "RU"}),
		geoiptest.Write(t, "GeoLite2-ASN",
			geoiptest.Net{Prefix: "203.0.113.0/24", ASN: 64500, ASNOrg: "Example Office Net"},
			geoiptest.Net{Prefix: "198.51.100.0/24", ASN: 3320, ASNOrg: "Deutsche Telekom AG"}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stream := append(history(8), call(day(8), "198.51.100.250"), call(day(8).Add(time.Hour), "192.0.2.66"))
	h := dt.New(t, newLocation(t, &detectors.Settings{GeoIP: db}))
	fs := checkFindings(t, builtin.AccessKeyNewLocationID, h, stream, want{stream[17].ID(), detectors.SeverityHigh})
	if len(fs) == 1 && fs[0].Evidence["country"] != "RU" {
		t.Errorf("country %q, want RU from registered_country", fs[0].Evidence["country"])
	}
}
