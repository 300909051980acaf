package detectors_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
)

// TestEventHumanSessionRemembersIt: an event's HumanSession and
// HabitPrincipal, worked out once and asked again, are what the record
// says, for each kind of session the rules tell apart.
func TestEventHumanSessionRemembersIt(t *testing.T) {
	const (
		role   = "arn:aws:iam::111122223333:role/Deploy"
		sso    = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef"
		ssoARN = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice"
	)
	assumed := func(issuer, arn, principalID string) cloudtrail.UserIdentity {
		u := cloudtrail.UserIdentity{Type: "AssumedRole", ARN: arn, PrincipalID: principalID}
		u.SessionIssuer.Type, u.SessionIssuer.ARN = "Role", issuer
		return u
	}
	for _, tc := range []struct {
		name    string
		r       cloudtrail.Record
		human   bool
		habitOf string
	}{
		{"console flag", cloudtrail.Record{SessionCredentialFromConsole: true, UserIdentity: assumed(role, "arn:aws:sts::111122223333:assumed-role/Deploy/bob", "AROA:bob")}, true, role + "/person:bob"},
		{"Identity Center role", cloudtrail.Record{UserIdentity: assumed(sso, ssoARN, "AROA:alice")}, true, sso + "/person:alice"},
		{"session named by email", cloudtrail.Record{UserIdentity: assumed(role, "arn:aws:sts::111122223333:assumed-role/Deploy/carol@example.com", "AROA:carol@example.com")}, true, role + "/person:carol@example.com"},
		{"Cognito", cloudtrail.Record{UserIdentity: assumed(role, "arn:aws:sts::111122223333:assumed-role/Deploy/CognitoIdentityCredentials", "AROA:x")}, true, role + "/person:CognitoIdentityCredentials"},
		{"workload session", cloudtrail.Record{UserIdentity: assumed(role, "arn:aws:sts::111122223333:assumed-role/Deploy/i-0123456789abcdef0", "AROA:i-0123456789abcdef0")}, false, role},
		{"source identity", cloudtrail.Record{UserIdentity: func() cloudtrail.UserIdentity {
			u := assumed(role, "arn:aws:sts::111122223333:assumed-role/Deploy/dan@example.com", "AROA:dan@example.com")
			u.SourceIdentity = "dan"
			return u
		}()}, true, role + "/source:dan"},
		{"IAM user with MFA", cloudtrail.Record{UserIdentity: cloudtrail.UserIdentity{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/erin", MFAAuthenticated: true}}, true, "arn:aws:iam::111122223333:user/erin"},
		{"IAM user", cloudtrail.Record{UserIdentity: cloudtrail.UserIdentity{Type: "IAMUser", ARN: "arn:aws:iam::111122223333:user/ci"}}, false, "arn:aws:iam::111122223333:user/ci"},
		{"SAML user", cloudtrail.Record{UserIdentity: cloudtrail.UserIdentity{Type: "SAMLUser", PrincipalID: "p:frank"}}, true, ""},
		{"nobody", cloudtrail.Record{}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := detectors.HumanSession(&tc.r); got != tc.human {
				t.Fatalf("HumanSession = %v, want %v", got, tc.human)
			}
			ev := &detectors.Event{Record: &tc.r}
			for i := range 2 {
				if got := ev.HumanSession(); got != tc.human {
					t.Errorf("ask %d: Event.HumanSession = %v, want %v", i+1, got, tc.human)
				}
			}
			if tc.habitOf == "" {
				return
			}
			for _, got := range []string{(&detectors.Event{Record: &tc.r}).HabitPrincipal(), ev.HabitPrincipal(), detectors.HabitPrincipal(&tc.r)} {
				if got != tc.habitOf {
					t.Errorf("HabitPrincipal = %q, want %q", got, tc.habitOf)
				}
			}
		})
	}
}
