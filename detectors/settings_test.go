package detectors_test

import (
	"net/netip"
	"regexp"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/internal/detectortest"
)

func parse(t *testing.T, r detectortest.Rec) *cloudtrail.Record {
	t.Helper()
	rec, err := cloudtrail.Parse(r.JSON(), cloudtrail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestSettingsOrgAccount(t *testing.T) {
	var none detectors.Settings
	if !none.OrgAccount("111122223333", "111122223333") || none.OrgAccount("999999999999", "111122223333") {
		t.Error("without accounts, only the event's own account is the organisation's")
	}
	org := detectors.Settings{Accounts: []string{"111122223333", "444455556666"}}
	if !org.OrgAccount("444455556666", "111122223333") || org.OrgAccount("999999999999", "999999999999") {
		t.Error("with accounts, exactly the listed ones are the organisation's")
	}
}

func TestSettingsTrustedSource(t *testing.T) {
	s := detectors.Settings{
		TrustedCIDRs:        []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32")},
		TrustedVPCEndpoints: []string{"vpce-0a1b2c3d4e5f67890"},
	}
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		rec  detectortest.Rec
		want string
	}{
		{"inside cidr", detectortest.Base("sts.amazonaws.com", "AssumeRole", at).With("sourceIPAddress", "198.51.100.7"), "198.51.100.0/24"},
		{"ipv6 inside", detectortest.Base("sts.amazonaws.com", "AssumeRole", at).With("sourceIPAddress", "2001:db8::1"), "2001:db8::/32"},
		{"outside", detectortest.Base("sts.amazonaws.com", "AssumeRole", at).With("sourceIPAddress", "203.0.113.9"), ""},
		{"vpce", detectortest.Base("sts.amazonaws.com", "AssumeRole", at).With("sourceIPAddress", "10.1.2.3").With("vpcEndpointId", "vpce-0a1b2c3d4e5f67890"), "vpce-0a1b2c3d4e5f67890"},
		{"other vpce", detectortest.Base("sts.amazonaws.com", "AssumeRole", at).With("sourceIPAddress", "10.1.2.3").With("vpcEndpointId", "vpce-ffff"), ""},
		{"service name", detectortest.Base("sts.amazonaws.com", "AssumeRole", at).With("sourceIPAddress", "ec2.amazonaws.com"), ""},
	}
	for _, tt := range tests {
		got, ok := s.TrustedSource(parse(t, tt.rec))
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: TrustedSource = %q, %v; want %q", tt.name, got, ok, tt.want)
		}
	}
	if (&detectors.Settings{}).HasTrustedNetworks() || !s.HasTrustedNetworks() {
		t.Error("HasTrustedNetworks wrong")
	}
}

func TestSettingsPrivilegedAndSessionNames(t *testing.T) {
	s := detectors.Settings{
		PrivilegedRoles:     []string{"arn:aws:iam::*:role/AdminRole", "arn:aws:iam::111122223333:role/break-glass-*"},
		SessionNamePatterns: []*regexp.Regexp{regexp.MustCompile(`^[a-z]+@example\.com$`)},
	}
	for arn, want := range map[string]bool{
		"arn:aws:iam::111122223333:role/AdminRole":        true,
		"arn:aws:iam::444455556666:role/AdminRole":        true,
		"arn:aws:iam::111122223333:role/AdminRoleX":       false,
		"arn:aws:iam::111122223333:role/break-glass-ops":  true,
		"arn:aws:iam::444455556666:role/break-glass-ops":  false,
		"arn:aws:iam::111122223333:role/ReadOnlyAuditors": false,
	} {
		if _, got := s.PrivilegedRole(arn); got != want {
			t.Errorf("PrivilegedRole(%s) = %v, want %v", arn, got, want)
		}
	}
	if _, ok := s.SessionNameConventional("alice@example.com"); !ok {
		t.Error("conventional name rejected")
	}
	if _, ok := s.SessionNameConventional("botocore-session-1700000000"); ok {
		t.Error("unconventional name accepted")
	}
}

func TestWithSeverity(t *testing.T) {
	d := detectors.WithSeverity(detectortest.Must(builtin.NewAdminPolicyAttached(detectors.Config{})), detectors.SeverityLow)
	if d.Info().Severity != detectors.SeverityLow {
		t.Fatalf("Info().Severity = %v", d.Info().Severity)
	}
	h := detectortest.New(t, d)
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	vs := h.Score(detectortest.IAM("AttachUserPolicy", at, map[string]any{
		"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
	}))
	fs := detectortest.Only(builtin.AdminPolicyAttachedID, vs)
	if len(fs) != 1 || fs[0].Severity != detectors.SeverityLow {
		t.Fatalf("findings = %+v, want one LOW", fs)
	}
}

func TestRoleNameFromARN(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:iam::111122223333:role/Admin":             "Admin",
		"arn:aws:iam::111122223333:role/team/ops/Admin":    "Admin",
		"arn:aws-us-gov:iam::111122223333:role/x":          "x",
		"arn:aws:iam::111122223333:user/alice":             "",
		"arn:aws:sts::111122223333:assumed-role/Admin/bob": "",
		"": "",
	} {
		if got := detectors.RoleNameFromARN(arn); got != want {
			t.Errorf("RoleNameFromARN(%q) = %q, want %q", arn, got, want)
		}
	}
}
