package consistency_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/state"
)

// assume-role-unexpected-source: one thief signing in with three
// established people's stolen credentials from one network, split over two
// replicas whose round trips interleave in every schedule, raises every
// victim at MEDIUM: no victim makes the thief's network the
// organisation's for another.

func signInDetectors(t *testing.T) []detectors.Detector {
	d, err := builtin.NewAssumeRoleUnexpectedSource(detectors.Config{Settings: &detectors.Settings{}})
	if err != nil {
		t.Fatal(err)
	}
	return []detectors.Detector{d}
}

func saml(at time.Time, subject, ip string) dt.Rec {
	return dt.Base("sts.amazonaws.com", "AssumeRoleWithSAML", at).With("sourceIPAddress", ip).
		With("userIdentity", map[string]any{"type": "SAMLUser", "principalId": "SAML:" + subject, "userName": subject,
			"identityProvider": "arn:aws:iam::111122223333:saml-provider/Okta"}).
		With("requestParameters", map[string]any{"roleArn": "arn:aws:iam::111122223333:role/Engineer",
			"principalArn": "arn:aws:iam::111122223333:saml-provider/Okta", "roleSessionName": subject}).
		With("responseElements", map[string]any{"subject": subject, "subjectType": "persistent",
			"issuer": "http://www.okta.com/exk1", "nameQualifier": "q1", "audience": "https://signin.aws.amazon.com/saml"})
}

func victimsByMedium(vs []engine.Verdict) map[string]detectors.Severity {
	out := map[string]detectors.Severity{}
	for _, f := range dt.Only(builtin.AssumeRoleUnexpectedSourceID, vs) {
		out[f.Evidence["person"]] = max(out[f.Evidence["person"]], f.Severity)
	}
	return out
}

func TestStolenCredentialsOneNetworkAcrossInterleavings(t *testing.T) {
	onStores(t, func(t *testing.T, open func(testing.TB) state.Store) {
		t0 := time.Date(2025, 3, 12, 9, 0, 0, 0, time.UTC)
		victims := []string{"v1@example.com", "v2@example.com", "v3@example.com"}
		var history []dt.Rec
		for d := 10; d >= 1; d-- {
			for i, v := range victims {
				history = append(history, saml(t0.Add(-time.Duration(d)*24*time.Hour+time.Duration(i)*time.Minute), v, fmt.Sprintf("198.51.100.%d", 10+i)))
			}
		}
		var burst []dt.Rec // minutes apart: the thief works through its haul
		for i, v := range victims {
			burst = append(burst, saml(t0.Add(time.Duration(i)*time.Minute), v, fmt.Sprintf("192.0.2.%d", 200+i)))
		}
		seeded := func() state.Store {
			s := open(t)
			dt.NewWithStore(t, s, signInDetectors(t)...).Stream(history...)
			return s
		}
		for mask := range 1 << len(burst) {
			for _, reversed := range []bool{false, true} {
				for _, sched := range schedules {
					got := victimsByMedium(scoreInterleavedWith(context.Background(), t, seeded(), splitBurst(burst, mask, reversed), sched, signInDetectors))
					for _, v := range victims {
						if got["SAML subject "+v] != detectors.SeverityMedium {
							t.Errorf("split %03b (reversed %v), schedule %v: %s raised %v, want MEDIUM", mask, reversed, sched, v, got["SAML subject "+v])
						}
					}
				}
			}
		}
	})
}
