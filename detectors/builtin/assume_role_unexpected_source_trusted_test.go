package builtin_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// TestAssumeRoleUnexpectedSourceTrustedHistory: sign-ins from
// trusted_networks are never judged, but they are the person's history.
// Before, an office developer (every sign-in from the office) had none, so
// the developer's stolen key assuming the admin role from an attacker's
// network was a "first sign-in" and only learned: the realistic corpus's
// admin-role-spike attacks on office developers raised nothing.
func TestAssumeRoleUnexpectedSourceTrustedHistory(t *testing.T) {
	s := &detectors.Settings{GeoIP: arsGeo, TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")},
		PrivilegedRoles: []string{"arn:aws:iam::*:role/admin"}}
	office := days(0, 10, func(at time.Time, d int) dt.Rec {
		return arusAssume("deploy", "198.51.100.20").With("eventTime", at.Format(time.RFC3339))
	})
	at := func(r dt.Rec, t time.Time) dt.Rec { return r.With("eventTime", t.Format(time.RFC3339)) }
	for _, tc := range []struct {
		name   string
		stream []dt.Rec
		want   detectors.Severity // SeverityUnknown: no finding
	}{
		{"the admin role from abroad an hour after the office: impossible travel", cat(office, []dt.Rec{at(arusAssume("admin", "192.0.2.9"), arsDay(9).Add(time.Hour))}), detectors.SeverityHigh},
		{"the admin role from abroad the next day: a role never assumed, privileged", cat(office, []dt.Rec{at(arusAssume("admin", "192.0.2.9"), arsDay(10).Add(6*time.Hour))}), detectors.SeverityHigh},
		{"a role never assumed from abroad the next day", cat(office, []dt.Rec{at(arusAssume("billing", "192.0.2.9"), arsDay(10).Add(6*time.Hour))}), detectors.SeverityMedium},
		{"quiet: the usual role from home, in the office's country: LOW", cat(office, []dt.Rec{at(arusAssume("deploy", "198.51.101.4"), arsDay(10))}), detectors.SeverityLow},
		{"quiet: the office only", office, detectors.SeverityUnknown},
		{"quiet: abroad after one day in the office: still learning", cat(office[:1], []dt.Rec{at(arusAssume("admin", "192.0.2.9"), arsDay(1))}), detectors.SeverityUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := dt.Only(builtin.AssumeRoleUnexpectedSourceID, dt.New(t, newARUS(t, s, "")).Stream(tc.stream...))
			if tc.want == detectors.SeverityUnknown {
				if len(fs) != 0 {
					t.Fatalf("want no finding, got %s: %s", fs[0].Severity, fs[0].Explanation)
				}
				return
			}
			if len(fs) != 1 || fs[0].Severity != tc.want || fs[0].EventID != tc.stream[len(tc.stream)-1].ID() {
				t.Fatalf("want one %s finding on the last sign-in, got %v", tc.want, fs)
			}
		})
	}
}
