package builtin_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Records built here with dt are generated, shaped after the AssumeRole
// records of panther-rule-tests and stratus-red-team. Real records come
// from testdata/panther and testdata/stratus. Scenarios of people and
// automation are in assume_role_baseline_scenario_test.go.

func newARUS(t testing.TB, s *detectors.Settings, doc string) detectors.Detector {
	t.Helper()
	d, err := builtin.NewAssumeRoleUnexpectedSource(det3Config(s, doc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// arusAssume is alice (IAM user) assuming role from src on day 8.
func arusAssume(role, src string) dt.Rec {
	return dt.Base("sts.amazonaws.com", "AssumeRole", arsDay(8)).With("sourceIPAddress", src).With("requestParameters", map[string]any{
		"roleArn": arsRole(role), "roleSessionName": "alice", "durationSeconds": 3600,
	})
}

// aliceAssumesAtHome is alice assuming role deploy from her home ISP
// every day for 8 days.
func aliceAssumesAtHome() []dt.Rec {
	return days(0, 8, func(at time.Time, d int) dt.Rec {
		return arusAssume("deploy", fmt.Sprintf("198.51.100.%d", 10+d)).With("eventTime", at.Format(time.RFC3339))
	})
}

func det3AsService(r dt.Rec, svc string) dt.Rec {
	return r.With("sourceIPAddress", svc).With("userIdentity", map[string]any{"type": "AWSService", "invokedBy": svc})
}

func TestAssumeRoleUnexpectedSourceContract(t *testing.T) {
	dt.Run(t, dt.Contract{
		New:   func() detectors.Detector { return newARUS(t, arsGeoSettings(), "") },
		Loud:  cat(aliceAtHome(8), []dt.Rec{samlSignIn(arsDay(8), "alice@example.com", "203.0.113.9")}),
		Quiet: cat(aliceAtHome(10), lambdaRuns(2), aliceAssumesAtHome()),
	})
}

// TestAssumeRoleUnexpectedSourceSkips checks what is never judged: each
// record would raise HIGH (a hosting network after a week at home) if it
// were.
func TestAssumeRoleUnexpectedSourceSkips(t *testing.T) {
	tests := []struct {
		name string
		opts string
		rec  dt.Rec
	}{
		{name: "failed call", rec: arusAssume("deploy", "203.0.113.9").Failed("AccessDenied")},
		{name: "not a sign-in", rec: arusAssume("deploy", "203.0.113.9").With("eventName", "GetSessionToken")},
		{name: "a sign-in name from another service", rec: arusAssume("deploy", "203.0.113.9").With("eventSource", "iam.amazonaws.com")},
		{name: "AWS service assumes the role", rec: det3AsService(arusAssume("deploy", ""), "lambda.amazonaws.com")},
		{name: "zero-padded source is no IP", rec: arusAssume("deploy", "06.237.252.245")},
		{name: "ignored role", opts: "ignore_roles: ['arn:aws:iam::*:role/dep*']", rec: arusAssume("deploy", "203.0.113.9")},
		{name: "event not in events", opts: "events: [AssumeRoleWithSAML]", rec: arusAssume("deploy", "203.0.113.9")},
		{name: "private address trusted by option", opts: "trust_private_addresses: true", rec: arusAssume("deploy", "10.1.2.3")},
		{name: "IAM user console sign-in has no role", rec: dt.Base("signin.amazonaws.com", "ConsoleLogin", arsDay(8)).
			With("sourceIPAddress", "203.0.113.9").With("responseElements", map[string]any{"ConsoleLogin": "Success"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := dt.New(t, newARUS(t, arsGeoSettings(), tt.opts))
			h.Stream(aliceAssumesAtHome()...)
			if fs := dt.Only(builtin.AssumeRoleUnexpectedSourceID, h.Score(tt.rec)); len(fs) != 0 {
				t.Errorf("raised %s: %s", fs[0].Severity, fs[0].Explanation)
			}
		})
	}
	// The same history and a judged record raise: the skips above are the
	// reason they are quiet.
	h := dt.New(t, newARUS(t, arsGeoSettings(), ""))
	h.Stream(aliceAssumesAtHome()...)
	fs := dt.Only(builtin.AssumeRoleUnexpectedSourceID, h.Score(arusAssume("deploy", "203.0.113.9")))
	det3CheckOne(t, fs, detectors.SeverityHigh, map[string]string{"network": "asn:24940", "network_kind": "hosting", "country": "DE",
		"person": "arn:aws:iam::111122223333:user/alice", "networks_known": "1"})
}

func TestAssumeRoleUnexpectedSourcePrivateThroughEndpoint(t *testing.T) {
	h := dt.New(t, newARUS(t, arsGeoSettings(), ""))
	h.Stream(aliceAssumesAtHome()...)
	fs := dt.Only(builtin.AssumeRoleUnexpectedSourceID, h.Score(arusAssume("deploy", "10.1.2.3").With("vpcEndpointId", "vpce-0fff")))
	det3CheckOne(t, fs, detectors.SeverityMedium, map[string]string{"vpc_endpoint_id": "vpce-0fff", "network": "vpce:vpce-0fff"})
	trusted := &detectors.Settings{GeoIP: arsGeo, TrustedVPCEndpoints: []string{"vpce-0fff"}}
	h = dt.New(t, newARUS(t, trusted, ""))
	h.Stream(aliceAssumesAtHome()...)
	if fs := dt.Only(builtin.AssumeRoleUnexpectedSourceID, h.Score(arusAssume("deploy", "10.1.2.3").With("vpcEndpointId", "vpce-0fff"))); len(fs) != 0 {
		t.Errorf("a trusted endpoint raised: %s", fs[0].Explanation)
	}
}

func TestAssumeRoleUnexpectedSourceExplains(t *testing.T) {
	s := &detectors.Settings{GeoIP: arsGeo, PrivilegedRoles: []string{"arn:aws:iam::*:role/Admin*"}}
	h := dt.New(t, newARUS(t, s, ""))
	h.Stream(aliceAtHome(8)...)
	fs := dt.Only(builtin.AssumeRoleUnexpectedSourceID, h.Score(samlSignInTo(arsDay(8), "alice@example.com", "AdminRole", "192.0.2.66")))
	if len(fs) != 1 {
		t.Fatalf("want one finding, got %v", fs)
	}
	want := `SAML subject alice@example.com signed in to arn:aws:iam::111122223333:role/AdminRole with AssumeRoleWithSAML from 192.0.2.66, ` +
		`ASN 3215 (Orange): new country FR (1 other country known); a new network (1 other network known) ` +
		`(history since 2025-03-03T09:00:00Z, 8.0 days); the role matches privileged_roles pattern "arn:aws:iam::*:role/Admin*"`
	if fs[0].Explanation != want {
		t.Errorf("explanation:\n got %s\nwant %s", fs[0].Explanation, want)
	}
	if !slices.Equal(fs[0].Techniques, []string{"T1078.004"}) {
		t.Errorf("techniques = %v", fs[0].Techniques)
	}
}

func TestAssumeRoleUnexpectedSourceNotes(t *testing.T) {
	tests := []struct {
		s    *detectors.Settings
		opts string
		want []string // substrings, one per note
	}{
		{&detectors.Settings{}, "", []string{"no GeoIP database"}},
		{arsGeoSettings(), "", nil},
		{arsGeoSettings(), "trust_private_addresses: true", []string{"trust_private_addresses"}},
	}
	for _, tt := range tests {
		notes := newARUS(t, tt.s, tt.opts).(detectors.Notable).Notes()
		if len(notes) != len(tt.want) {
			t.Errorf("notes = %q, want %d", notes, len(tt.want))
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(notes[i], w) {
				t.Errorf("note %q lacks %q", notes[i], w)
			}
		}
	}
	if n, ok := detectors.WithSeverity(newARUS(t, &detectors.Settings{}, ""), detectors.SeverityHigh).(detectors.Notable); !ok || len(n.Notes()) != 1 {
		t.Error("WithSeverity hides the notes")
	}
}

func TestAssumeRoleUnexpectedSourceRejectsBadOptions(t *testing.T) {
	_, err := builtin.NewAssumeRoleUnexpectedSource(det3Config(arsGeoSettings(),
		"events: [AssumeRole, GetSessionToken]\nwindow: 24h\nwarm_up: 48h\norg_common_people: 0\nipv4_prefix: 4\nipv6_prefix: 129"))
	var keys []string
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("want joined option errors, got %v", err)
	}
	for _, e := range joined.Unwrap() {
		var oe *detectors.OptionError
		if errors.As(e, &oe) {
			keys = append(keys, oe.Key)
		}
	}
	if want := []string{"events", "warm_up", "org_common_people", "ipv4_prefix", "ipv6_prefix"}; !slices.Equal(keys, want) {
		t.Errorf("option errors for keys %v, want %v (%v)", keys, want, err)
	}
	if _, err := builtin.NewAssumeRoleUnexpectedSource(det3Config(nil, "throttle_minutes: 60")); err == nil {
		t.Error("the removed throttle_minutes is accepted")
	}
}

// TestAssumeRoleUnexpectedSourceStratus runs the real AssumeRole records
// of four detonations (testdata/stratus/assume-role.json). Alone they are
// the caller's first sign-ins and only teach; after a week of the same
// users signing in from elsewhere, each (user, role, network) raises once,
// MEDIUM (no GeoIP: a new prefix). Denied calls and zero-padded sources
// raise nothing.
func TestAssumeRoleUnexpectedSourceStratus(t *testing.T) {
	recs := det3Stratus(t, "assume-role.json")
	if fs := dt.Only(builtin.AssumeRoleUnexpectedSourceID, dt.New(t, newARUS(t, nil, "")).ScoreRaw(recs...)); len(fs) != 0 {
		t.Errorf("first sign-ins raised %d findings, first: %s", len(fs), fs[0].Explanation)
	}
	var history [][]byte
	for _, acct := range []string{"457448411975", "307578594326", "321848314756", "900138736586"} {
		for d := range 8 {
			at := time.Date(2024, 7, 20+d, 9, 0, 0, 0, time.UTC)
			history = append(history, dt.Base("sts.amazonaws.com", "AssumeRole", at).With("sourceIPAddress", "198.51.100.7").
				With("userIdentity.arn", "arn:aws:iam::"+acct+":user/christophe").With("userIdentity.accountId", acct).
				With("requestParameters", map[string]any{"roleArn": "arn:aws:iam::" + acct + ":role/x", "roleSessionName": "s"}).JSON())
		}
	}
	vs := dt.New(t, newARUS(t, nil, "")).ScoreRaw(append(history, recs...)...)
	var got []string
	for _, f := range dt.Only(builtin.AssumeRoleUnexpectedSourceID, vs) {
		got = append(got, f.SourceIP+" "+f.Severity.String())
	}
	slices.Sort(got)
	// ec2-download-user-data (255.18.064.253) and ec2-launch-unusual-instances
	// (06.237.252.245) carry anonymised zero-padded sources, which are no IP.
	want := []string{"200.249.253.51 MEDIUM", "252.5.222.230 MEDIUM"}
	if !slices.Equal(got, want) {
		t.Errorf("findings = %q, want %q", got, want)
	}
}

// TestAssumeRoleUnexpectedSourcePanther runs the Panther rule tests of the
// rules this detector overlaps. Panther judges each record alone, by the
// role's name; a record alone is a caller's first sign-in here, which only
// teaches.
func TestAssumeRoleUnexpectedSourcePanther(t *testing.T) {
	none := detectors.SeverityUnknown
	s := &detectors.Settings{
		TrustedCIDRs:    []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		PrivilegedRoles: []string{"arn:aws:iam::*:role/FullAdminRole"},
	}
	first := "a lone record is the caller's first sign-in: it teaches the caller's networks; " +
		"TestAssumeRoleUnexpectedSourcePantherWithHistory gives it a history"
	verdicts := map[string]pantherVerdict{
		"AWS.CloudTrail.IAMAssumeRoleBlacklistIgnored/IAM Blocklisted Role Assumed":     {none, first},
		"AWS.CloudTrail.IAMAssumeRoleBlacklistIgnored/IAM Non Blocklisted Role Assumed": {want: none},
		"AWS.CloudTrail.IAMAssumeRoleBlacklistIgnored/Error Assuming IAM Blocked Role":  {want: none},
		"Role.Assumed.by.AWS.Service/Role Assumed by AWS Service": {none,
			"Panther's INFO rule lists every service assumption; an AWS service is never an unexpected source"},
		"Role.Assumed.by.User/Role Assumed by Service": {want: none},
	}
	runPantherSuite(t, builtin.AssumeRoleUnexpectedSourceID, func(t *testing.T) detectors.Detector { return newARUS(t, s, "") }, verdicts,
		"AWS.CloudTrail.IAMAssumeRoleBlacklistIgnored", "Role.Assumed.by.AWS.Service", "Role.Assumed.by.User")
}

// TestAssumeRoleUnexpectedSourcePantherWithHistory gives the caller of
// Panther's blocklisted-role case a week of sign-ins from another network:
// the real record then raises, HIGH on the privileged role.
func TestAssumeRoleUnexpectedSourcePantherWithHistory(t *testing.T) {
	s := &detectors.Settings{PrivilegedRoles: []string{"arn:aws:iam::*:role/FullAdminRole"}}
	for _, c := range dt.PantherCases(t, "testdata/panther/"+builtin.AssumeRoleUnexpectedSourceID+".jsonl", "AWS.CloudTrail.IAMAssumeRoleBlacklistIgnored") {
		if c.TestName != "IAM Blocklisted Role Assumed" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(c.Event, &m); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339, m["eventTime"].(string))
		if err != nil {
			t.Fatalf("eventTime: %v", err)
		}
		var stream [][]byte
		for d := 8; d > 0; d-- {
			h := dt.Rec(m).With("eventID", dt.FreshID()).With("sourceIPAddress", "198.51.100.7").
				With("eventTime", at.Add(-time.Duration(d)*24*time.Hour).Format(time.RFC3339))
			stream = append(stream, h.JSON())
		}
		fs := dt.Only(builtin.AssumeRoleUnexpectedSourceID, dt.New(t, newARUS(t, s, "")).ScoreRaw(append(stream, c.Event)...))
		det3CheckOne(t, fs, detectors.SeverityHigh, map[string]string{"privileged_pattern": "arn:aws:iam::*:role/FullAdminRole"})
		return
	}
	t.Fatal("Panther case IAM Blocklisted Role Assumed not found")
}
