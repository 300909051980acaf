package builtin_test

import (
	"errors"
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
// from testdata/panther and testdata/stratus.

var arusSettings = &detectors.Settings{
	TrustedCIDRs:        []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32")},
	TrustedVPCEndpoints: []string{"vpce-0a1b2c3d4e5f67890"},
	PrivilegedRoles:     []string{"arn:aws:iam::*:role/Admin*"},
}

func newARUS(t testing.TB, s *detectors.Settings, doc string) detectors.Detector {
	t.Helper()
	d, err := builtin.NewAssumeRoleUnexpectedSource(det3Config(s, doc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func arusAssume(role, src string) dt.Rec {
	return dt.Base("sts.amazonaws.com", "AssumeRole", t0).With("sourceIPAddress", src).With("requestParameters", map[string]any{
		"roleArn": "arn:aws:iam::111122223333:role/" + role, "roleSessionName": "alice", "durationSeconds": 3600,
	})
}

func det3AsService(r dt.Rec, svc string) dt.Rec {
	return r.With("sourceIPAddress", svc).With("userIdentity", map[string]any{"type": "AWSService", "invokedBy": svc})
}

func TestAssumeRoleUnexpectedSourceContract(t *testing.T) {
	dt.Run(t, dt.Contract{
		New: func() detectors.Detector { return newARUS(t, arusSettings, "") },
		Loud: []dt.Rec{
			arusAssume("deploy", "203.0.113.9"),
			arusAssume("AdminRole", "203.0.113.9"),
			arusAssume("deploy", "2001:db9::7"),
		},
		Quiet: []dt.Rec{
			arusAssume("deploy", "198.51.100.7"),
			arusAssume("AdminRole", "2001:db8::1"),
			arusAssume("deploy", "10.1.2.3").With("vpcEndpointId", "vpce-0a1b2c3d4e5f67890"),
			det3AsService(arusAssume("deploy", ""), "lambda.amazonaws.com"),
			arusAssume("deploy", "203.0.113.9").Failed("AccessDenied"),
			dt.Base("sts.amazonaws.com", "GetSessionToken", t0).With("sourceIPAddress", "203.0.113.9"),
		},
	})
}

func TestAssumeRoleUnexpectedSourceVerdicts(t *testing.T) {
	none := detectors.SeverityUnknown
	tests := []struct {
		name     string
		settings *detectors.Settings
		opts     string
		rec      dt.Rec
		want     detectors.Severity
		evidence map[string]string
	}{
		{name: "public IP outside trusted cidrs", rec: arusAssume("deploy", "203.0.113.9"), want: detectors.SeverityMedium,
			evidence: map[string]string{"source_ip": "203.0.113.9", "role_arn": "arn:aws:iam::111122223333:role/deploy",
				"trusted_cidrs": "198.51.100.0/24 2001:db8::/32", "actor": "arn:aws:iam::111122223333:user/alice"}},
		{name: "privileged role is HIGH", rec: arusAssume("AdminRole", "203.0.113.9"), want: detectors.SeverityHigh,
			evidence: map[string]string{"privileged_pattern": "arn:aws:iam::*:role/Admin*"}},
		{name: "inside a trusted cidr", rec: arusAssume("AdminRole", "198.51.100.7"), want: none},
		{name: "IPv6 inside a trusted cidr", rec: arusAssume("deploy", "2001:db8::1"), want: none},
		{name: "IPv6 outside", rec: arusAssume("deploy", "2001:db9::1"), want: detectors.SeverityMedium},
		{name: "IPv4-mapped IPv6 inside", rec: arusAssume("deploy", "::ffff:198.51.100.7"), want: none},
		{name: "through a trusted VPC endpoint", rec: arusAssume("deploy", "10.1.2.3").With("vpcEndpointId", "vpce-0a1b2c3d4e5f67890"), want: none},
		{name: "private IP through an unlisted VPC endpoint", rec: arusAssume("deploy", "10.1.2.3").With("vpcEndpointId", "vpce-0fff"),
			want: detectors.SeverityMedium, evidence: map[string]string{"vpc_endpoint_id": "vpce-0fff"}},
		{name: "private IP trusted by option", opts: "trust_private_addresses: true",
			rec: arusAssume("deploy", "10.1.2.3").With("vpcEndpointId", "vpce-0fff"), want: none},
		{name: "AWS service assumes the role", rec: det3AsService(arusAssume("deploy", ""), "lambda.amazonaws.com"), want: none},
		{name: "service on a user's behalf", rec: arusAssume("deploy", "203.0.113.9").With("userIdentity.invokedBy", "cloudformation.amazonaws.com"), want: none},
		{name: "AWS Internal source", rec: arusAssume("deploy", "AWS Internal"), want: none},
		{name: "zero-padded source is no IP: skipped", rec: arusAssume("deploy", "06.237.252.245"), want: none},
		{name: "failed call", rec: arusAssume("AdminRole", "203.0.113.9").Failed("AccessDenied"), want: none},
		{name: "web identity from outside", rec: arusAssume("ci", "203.0.113.9").With("eventName", "AssumeRoleWithWebIdentity"),
			want: detectors.SeverityMedium},
		{name: "web identity not in events", opts: "events: [AssumeRole, AssumeRoleWithSAML]",
			rec: arusAssume("ci", "203.0.113.9").With("eventName", "AssumeRoleWithWebIdentity"), want: none},
		{name: "ignored role", opts: "ignore_roles: ['arn:aws:iam::*:role/ci*']", rec: arusAssume("ci-deploy", "203.0.113.9"), want: none},
		{name: "cross-account caller known only by principal id", want: detectors.SeverityMedium,
			rec: arusAssume("deploy", "203.0.113.9").With("userIdentity", map[string]any{"type": "AWSAccount", "principalId": "AIDAEXAMPLE:x", "accountId": "999988887777"})},
		{name: "no trusted networks: off", settings: &detectors.Settings{}, rec: arusAssume("AdminRole", "203.0.113.9"), want: none},
		{name: "only VPC endpoints: every public IP is unexpected", settings: &detectors.Settings{TrustedVPCEndpoints: []string{"vpce-0a1b"}},
			rec: arusAssume("deploy", "198.51.100.7"), want: detectors.SeverityMedium},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.settings
			if s == nil {
				s = arusSettings
			}
			fs := dt.Only(builtin.AssumeRoleUnexpectedSourceID, dt.New(t, newARUS(t, s, tt.opts)).Score(tt.rec))
			det3CheckOne(t, fs, tt.want, tt.evidence)
		})
	}
}

func TestAssumeRoleUnexpectedSourceThrottles(t *testing.T) {
	at := func(r dt.Rec, d time.Duration) dt.Rec { return r.With("eventTime", t0.Add(d).Format(time.RFC3339)) }
	loop := []dt.Rec{
		at(arusAssume("deploy", "203.0.113.9"), 0),
		at(arusAssume("deploy", "203.0.113.9"), time.Minute),
		at(arusAssume("deploy", "203.0.113.9"), 2*time.Minute),
		at(arusAssume("deploy", "203.0.113.10"), 3*time.Minute),
		at(arusAssume("other", "203.0.113.9"), 4*time.Minute),
	}
	for opts, want := range map[string]int{"": 3, "throttle_minutes: 0": 5} {
		fs := dt.Only(builtin.AssumeRoleUnexpectedSourceID, dt.New(t, newARUS(t, arusSettings, opts)).Stream(loop...))
		if len(fs) != want {
			t.Errorf("%q: %d findings for an automation loop, want %d (one per caller, role and source)", opts, len(fs), want)
		}
	}
}

func TestAssumeRoleUnexpectedSourceExplains(t *testing.T) {
	vs := dt.New(t, newARUS(t, arusSettings, "")).Score(arusAssume("AdminRole", "203.0.113.9"))
	want := `arn:aws:iam::111122223333:user/alice called AssumeRole for arn:aws:iam::111122223333:role/AdminRole from 203.0.113.9: ` +
		`203.0.113.9 is outside trusted_networks.cidrs [198.51.100.0/24 2001:db8::/32] and the call came through no VPC endpoint ` +
		`of trusted_networks.vpc_endpoints; the role matches privileged_roles pattern "arn:aws:iam::*:role/Admin*"`
	if len(vs[0].Findings) != 1 {
		t.Fatalf("want one finding, got %v", vs[0].Findings)
	}
	f := vs[0].Findings[0]
	if f.Explanation != want {
		t.Errorf("explanation:\n got %s\nwant %s", f.Explanation, want)
	}
	if !slices.Equal(f.Techniques, []string{"T1078.004"}) {
		t.Errorf("techniques = %v", f.Techniques)
	}
}

func TestAssumeRoleUnexpectedSourceNotes(t *testing.T) {
	tests := []struct {
		s    *detectors.Settings
		opts string
		want []string // substrings, one per note
	}{
		{&detectors.Settings{}, "", []string{"no trusted_networks"}},
		{&detectors.Settings{TrustedVPCEndpoints: []string{"vpce-1"}}, "", []string{"only trusted_networks.vpc_endpoints"}},
		{arusSettings, "", nil},
		{arusSettings, "trust_private_addresses: true", []string{"trust_private_addresses"}},
	}
	for _, tt := range tests {
		var n detectors.Notable = newARUS(t, tt.s, tt.opts).(detectors.Notable)
		notes := n.Notes()
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
	// The severity override keeps the notes visible to serve.
	if n, ok := detectors.WithSeverity(newARUS(t, &detectors.Settings{}, ""), detectors.SeverityHigh).(detectors.Notable); !ok || len(n.Notes()) != 1 {
		t.Error("WithSeverity hides the notes")
	}
}

func TestAssumeRoleUnexpectedSourceRejectsBadOptions(t *testing.T) {
	_, err := builtin.NewAssumeRoleUnexpectedSource(det3Config(arusSettings, "events: [AssumeRole, GetSessionToken]\nthrottle_minutes: -1"))
	var keys []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var oe *detectors.OptionError
		if errors.As(e, &oe) {
			keys = append(keys, oe.Key)
		}
	}
	if !slices.Equal(keys, []string{"events", "throttle_minutes"}) {
		t.Errorf("option errors for keys %v, want [events throttle_minutes] (%v)", keys, err)
	}
}

// TestAssumeRoleUnexpectedSourceStratus runs real AssumeRole records of
// four detonations (testdata/stratus/assume-role.json) with trusted
// networks that do not hold the detonating host: each (caller, role, IP)
// raises once; denied calls and zero-padded sources raise nothing.
func TestAssumeRoleUnexpectedSourceStratus(t *testing.T) {
	recs := det3Stratus(t, "assume-role.json")
	fs := dt.Only(builtin.AssumeRoleUnexpectedSourceID, dt.New(t, newARUS(t, arusSettings, "")).ScoreRaw(recs...))
	var got []string
	for _, f := range fs {
		got = append(got, f.SourceIP+" "+f.Severity.String())
	}
	// ec2-download-user-data (255.18.064.253) and ec2-launch-unusual-instances
	// (06.237.252.245) carry anonymised zero-padded sources, which are no IP.
	want := []string{"200.249.253.51 MEDIUM", "252.5.222.230 MEDIUM"}
	if !slices.Equal(got, want) {
		t.Errorf("findings = %q, want %q", got, want)
	}
}

// TestAssumeRoleUnexpectedSourcePanther runs the Panther rule tests of the
// rules this detector overlaps, with trusted_networks 10.0.0.0/8 and
// FullAdminRole privileged (Panther's deny list).
func TestAssumeRoleUnexpectedSourcePanther(t *testing.T) {
	none := detectors.SeverityUnknown
	s := &detectors.Settings{
		TrustedCIDRs:    []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		PrivilegedRoles: []string{"arn:aws:iam::*:role/FullAdminRole"},
	}
	verdicts := map[string]pantherVerdict{
		"AWS.CloudTrail.IAMAssumeRoleBlacklistIgnored/IAM Blocklisted Role Assumed": {want: detectors.SeverityHigh},
		"AWS.CloudTrail.IAMAssumeRoleBlacklistIgnored/IAM Non Blocklisted Role Assumed": {detectors.SeverityMedium,
			"Panther alerts on listed roles only; we judge the network, and 111.111.111.111 is outside trusted_networks"},
		"AWS.CloudTrail.IAMAssumeRoleBlacklistIgnored/Error Assuming IAM Blocked Role": {want: none},
		"Role.Assumed.by.AWS.Service/Role Assumed by AWS Service": {none,
			"Panther's INFO rule lists every service assumption; an AWS service is never an unexpected source"},
		"Role.Assumed.by.User/Role Assumed by Service": {want: none},
	}
	runPantherSuite(t, builtin.AssumeRoleUnexpectedSourceID, func(t *testing.T) detectors.Detector { return newARUS(t, s, "") }, verdicts,
		"AWS.CloudTrail.IAMAssumeRoleBlacklistIgnored", "Role.Assumed.by.AWS.Service", "Role.Assumed.by.User")
}
