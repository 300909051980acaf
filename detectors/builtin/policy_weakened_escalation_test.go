package builtin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Escalation grants judged by policy-weakened. Records are generated
// (detectortest builders); the documents follow the privilege escalation
// paths of Rhino Security Labs' research and Bishop Fox iam-vulnerable, and
// the wording evasions of issue 11.
func TestPolicyWeakenedEscalation(t *testing.T) {
	priv := &detectors.Settings{PrivilegedRoles: []string{"arn:aws:iam::*:role/admin-*"}}
	tests := []struct {
		name     string
		settings *detectors.Settings
		rec      dt.Rec
		sev      detectors.Severity // zero: quiet
		part     string
	}{
		{name: "inline CreatePolicyVersion on every policy",
			rec: putInline("user", "mallory", "p", doc(`{"Effect":"Allow","Action":"iam:CreatePolicyVersion","Resource":"*"}`), t0),
			sev: detectors.SeverityHigh, part: "privilege escalation by iam:CreatePolicyVersion"},
		{name: "inline SetDefaultPolicyVersion on every policy",
			rec: putInline("role", "ci", "p", doc(`{"Effect":"Allow","Action":"iam:SetDefaultPolicyVersion","Resource":"arn:aws:iam::111122223333:policy/*"}`), t0),
			sev: detectors.SeverityHigh, part: "iam:SetDefaultPolicyVersion"},
		{name: "inline PassRole with lambda:CreateFunction",
			rec: putInline("group", "devs", "p", doc(stPass, `{"Effect":"Allow","Action":["lambda:CreateFunction","lambda:InvokeFunction"],"Resource":"*"}`), t0),
			sev: detectors.SeverityHigh, part: "iam:PassRole+lambda:CreateFunction"},
		{name: "CreatePolicyVersion as default granting CreateLoginProfile on every user",
			rec: createVersion(doc(`{"Effect":"Allow","Action":["iam:CreateLoginProfile","iam:UpdateLoginProfile"],"Resource":"arn:aws:iam::111122223333:user/*"}`), "v2", true, t0),
			sev: detectors.SeverityHigh, part: "iam:CreateLoginProfile"},
		{name: "UpdateAssumeRolePolicy on every role",
			rec: putInline("user", "mallory", "p", doc(`{"Effect":"Allow","Action":"iam:UpdateAssumeRolePolicy","Resource":"*"}`), t0),
			sev: detectors.SeverityHigh, part: "iam:UpdateAssumeRolePolicy"},
		{name: "escalation behind a real condition is MEDIUM",
			rec: putInline("user", "mallory", "p", doc(`{"Effect":"Allow","Action":"iam:CreateAccessKey","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"eu-west-1"}}}`), t0),
			sev: detectors.SeverityMedium, part: "iam:CreateAccessKey"},
		{name: "PassRole to a privileged role",
			settings: priv,
			rec:      putInline("user", "dev", "p", doc(`{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::111122223333:role/admin-break-glass"}`), t0),
			sev:      detectors.SeverityHigh, part: "privileged_roles"},
		{name: "NotAction of one item is CRITICAL",
			rec: putInline("user", "mallory", "p", doc(`{"Effect":"Allow","NotAction":["s3:DeleteBucket"],"Resource":"*"}`), t0),
			sev: detectors.SeverityCritical, part: "Resource *"},
		{name: "* behind aws:SecureTransport true is CRITICAL",
			rec: putInline("user", "mallory", "p", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}`), t0),
			sev: detectors.SeverityCritical, part: "Resource *"},
		{name: "* behind StringLike aws:userid * is CRITICAL",
			rec: putInline("role", "r", "p", doc(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"aws:userid":"*"}}}`), t0),
			sev: detectors.SeverityCritical, part: "Resource *"},
		{name: "* on arn:aws:*:*:*:* is CRITICAL",
			rec: putInline("role", "r", "p", doc(`{"Effect":"Allow","Action":"*","Resource":"arn:aws:*:*:*:*"}`), t0),
			sev: detectors.SeverityCritical, part: "Resource *"},
		// Quiet twins: the routine shapes of the same actions.
		{name: "self-service CreateAccessKey on the caller's own user is quiet",
			rec: putInline("group", "all", "self", doc(`{"Effect":"Allow","Action":["iam:CreateAccessKey","iam:UpdateLoginProfile"],"Resource":"arn:aws:iam::111122223333:user/${aws:username}"}`), t0)},
		{name: "lambda:CreateFunction without PassRole is quiet",
			rec: putInline("role", "deployer", "p", doc(`{"Effect":"Allow","Action":"lambda:CreateFunction","Resource":"*"}`), t0)},
		{name: "PassRole to an application role is quiet",
			settings: priv,
			rec:      putInline("user", "dev", "p", doc(stPassOne), t0)},
		{name: "admin behind MFA is HIGH, a real condition",
			rec: putInline("user", "ops", "p", doc(stMFAAdm), t0),
			sev: detectors.SeverityHigh, part: "aws:MultiFactorAuthPresent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := dt.Only(builtin.PolicyWeakenedID, dt.New(t, newPolicyWeakened(t, tt.settings, "")).Stream(tt.rec))
			if tt.sev == 0 {
				if len(fs) != 0 {
					t.Fatalf("want quiet, got %v: %s", fs[0].Severity, fs[0].Explanation)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("want one finding, got %d", len(fs))
			}
			if fs[0].Severity != tt.sev || !strings.Contains(fs[0].Explanation, tt.part) {
				t.Errorf("got %v %q, want %v mentioning %q", fs[0].Severity, fs[0].Explanation, tt.sev, tt.part)
			}
		})
	}
}

// TestPolicyWeakenedEscalationRollback: the classic CreatePolicyVersion
// path written as a non-default version, then SetDefaultPolicyVersion.
func TestPolicyWeakenedEscalationRollback(t *testing.T) {
	vs := dt.New(t, newPolicyWeakened(t, nil, "")).Stream(
		createPolicy("ops", doc(stS3Read), t0),
		createVersion(doc(stS3Read, `{"Effect":"Allow","Action":"iam:AttachUserPolicy","Resource":"*"}`), "v2", false, t0.Add(time.Minute)),
		setDefault("v2", t0.Add(2*time.Minute)))
	fs := dt.Only(builtin.PolicyWeakenedID, vs)
	if len(fs) != 1 || fs[0].EventName != "SetDefaultPolicyVersion" || fs[0].Severity != detectors.SeverityHigh {
		t.Fatalf("want one HIGH on SetDefaultPolicyVersion, got %d: %v", len(fs), fs)
	}
}
