package builtin_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Records built here with dt are generated, shaped after the CreateAccessKey
// and *LoginProfile records of panther-rule-tests and stratus-red-team.
// Real records come from testdata/panther and testdata/stratus.

func newAKP(t testing.TB, doc string) detectors.Detector {
	t.Helper()
	d, err := builtin.NewAccessKeyPersistence(det3Config(nil, doc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func akpCreateKey(user string) dt.Rec {
	params := map[string]any{}
	resp := map[string]any{"accessKeyId": "AKIAEXAMPLENEWKEY01", "status": "Active"}
	if user != "" {
		params["userName"] = user
		resp["userName"] = user
	}
	return dt.IAM("CreateAccessKey", t0, params).With("responseElements", map[string]any{"accessKey": resp})
}

func akpLoginProfile(event, user string) dt.Rec {
	return dt.IAM(event, t0, map[string]any{"userName": user, "passwordResetRequired": false})
}

func akpAsRoot(r dt.Rec) dt.Rec {
	return r.With("userIdentity", map[string]any{
		"type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root",
		"accountId": "111122223333", "accessKeyId": "ASIAEXAMPLEROOT0001",
	})
}

func TestAccessKeyPersistenceContract(t *testing.T) {
	dt.Run(t, dt.Contract{
		New: func() detectors.Detector { return newAKP(t, "self_service: false") },
		Loud: []dt.Rec{
			akpCreateKey("bob"),
			akpAsRoot(akpCreateKey("")),
			akpLoginProfile("CreateLoginProfile", "bob").AsAssumedRole("Admin", "mallory"),
			akpLoginProfile("CreateLoginProfile", "alice"),
		},
		Quiet: []dt.Rec{
			akpCreateKey("alice"),
			akpCreateKey(""),
			akpLoginProfile("UpdateLoginProfile", "alice"),
			akpCreateKey("bob").Failed("AccessDenied"),
			akpLoginProfile("CreateLoginProfile", "bob").Failed("EntityAlreadyExists"),
			dt.IAM("DeleteAccessKey", t0, map[string]any{"userName": "bob", "accessKeyId": "AKIAEXAMPLENEWKEY01"}),
			dt.IAM("ChangePassword", t0, nil),
			dt.IAM("ListAccessKeys", t0, map[string]any{"userName": "bob"}),
		},
		// Every successful call by an IAM user's long-term key is followed
		// (second keys); role sessions, service calls and failures are not.
		Unrelated: []dt.Rec{
			dt.Base("s3.amazonaws.com", "PutObject", t0).AsAssumedRole("app", "i-0abc"),
			dt.Base("kms.amazonaws.com", "Decrypt", t0).With("sourceIPAddress", "kms.amazonaws.com"),
			dt.Base("ec2.amazonaws.com", "RunInstances", t0).Failed("UnauthorizedOperation"),
			dt.Base("ec2.amazonaws.com", "RunInstances", t0).With("userIdentity.accessKeyId", "ASIAEXAMPLECONSOLE1"),
		},
	})
}

func TestAccessKeyPersistenceVerdicts(t *testing.T) {
	none := detectors.SeverityUnknown
	tests := []struct {
		name     string
		opts     string
		rec      dt.Rec
		want     detectors.Severity
		evidence map[string]string
	}{
		{name: "IAM user mints a key for another user", rec: akpCreateKey("bob"), want: detectors.SeverityHigh,
			evidence: map[string]string{"target_user": "bob", "self": "false", "new_access_key_id": "AKIAEXAMPLENEWKEY01", "caller_type": "IAMUser"}},
		{name: "self-service key naming itself", rec: akpCreateKey("alice"), want: detectors.SeverityLow,
			evidence: map[string]string{"target_user": "alice", "self": "true"}},
		{name: "self-service key naming no user", rec: akpCreateKey(""), want: detectors.SeverityLow,
			evidence: map[string]string{"self": "true"}},
		{name: "self-service key of a user with a path", want: detectors.SeverityLow,
			rec: akpCreateKey("alice").With("userIdentity.arn", "arn:aws:iam::111122223333:user/eng/alice")},
		{name: "self-service switched off", opts: "self_service: false", rec: akpCreateKey("alice"), want: none},
		{name: "root mints a key for a user", rec: akpAsRoot(akpCreateKey("example-user")), want: detectors.SeverityHigh,
			evidence: map[string]string{"caller_type": "Root", "target_user": "example-user"}},
		{name: "root access key", rec: akpAsRoot(akpCreateKey("")), want: detectors.SeverityCritical,
			evidence: map[string]string{"target_user": "root", "new_access_key_id": "AKIAEXAMPLENEWKEY01"}},
		// Real root records name the key's owner in the response ("Root" in
		// Panther's compromised-root-creds scenario): still root's own key.
		{name: "root access key, response naming Root", rec: akpAsRoot(akpCreateKey("")).With("responseElements",
			map[string]any{"accessKey": map[string]any{"accessKeyId": "AKIAEXAMPLENEWKEY01", "status": "Active", "userName": "Root"}}),
			want: detectors.SeverityCritical, evidence: map[string]string{"target_user": "root"}},
		{name: "assumed role named like the user mints its key", rec: akpCreateKey("alice").AsAssumedRole("IAMAdmin", "alice"),
			want: detectors.SeverityHigh, evidence: map[string]string{"caller_type": "AssumedRole", "self": "false"}},
		{name: "target known only from the response", want: detectors.SeverityHigh, evidence: map[string]string{"target_user": "bob"},
			rec: akpCreateKey("bob").With("requestParameters", nil).AsAssumedRole("Admin", "s1")},
		{name: "same user name in another account is not self", want: detectors.SeverityHigh,
			rec:      akpCreateKey("alice").With("userIdentity.accountId", "444455556666").With("userIdentity.arn", "arn:aws:iam::444455556666:user/alice"),
			evidence: map[string]string{"self": "false", "target_account": "111122223333"}},
		{name: "ARN and userName disagree: not proven self", want: detectors.SeverityHigh,
			rec: akpCreateKey("alice").With("userIdentity.arn", "arn:aws:iam::111122223333:user/jack")},
		{name: "failed key creation", rec: akpCreateKey("bob").Failed("LimitExceeded"), want: none},
		{name: "console password for another user", rec: akpLoginProfile("CreateLoginProfile", "bob"), want: detectors.SeverityHigh,
			evidence: map[string]string{"credential": "console password"}},
		{name: "console password reset for another user by a role", rec: akpLoginProfile("UpdateLoginProfile", "bob").AsAssumedRole("Admin", "alice"),
			want: detectors.SeverityHigh},
		{name: "user gives itself a console password", rec: akpLoginProfile("CreateLoginProfile", "alice"), want: detectors.SeverityMedium},
		{name: "self console password raised even without self_service", opts: "self_service: false",
			rec: akpLoginProfile("CreateLoginProfile", "alice"), want: detectors.SeverityMedium},
		{name: "user resets its own password", rec: akpLoginProfile("UpdateLoginProfile", "alice"), want: detectors.SeverityLow},
		{name: "ChangePassword is not in scope", rec: dt.IAM("ChangePassword", t0, nil), want: none},
		{name: "CreateAccessKey of another service", rec: akpCreateKey("bob").With("eventSource", "sts.amazonaws.com"), want: none},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := dt.Only(builtin.AccessKeyPersistenceID, dt.New(t, newAKP(t, tt.opts)).Score(tt.rec))
			det3CheckOne(t, fs, tt.want, tt.evidence)
		})
	}
}

// checkOne checks that fs is one finding of severity want with the given
// evidence, or nothing when want is SeverityUnknown.
// pantherVerdict is what a detector answers to one Panther rule-test case:
// the severity it raises (SeverityUnknown: nothing) and, where that
// disagrees with Panther's expectation, why.
type pantherVerdict struct {
	want   detectors.Severity
	differ string
}

// runPantherSuite scores every case of rules in testdata/panther/<id>.jsonl
// with a detector of its own and checks it against verdicts: every case has
// a verdict, every verdict a case, and a verdict that disagrees with
// Panther says why.
func runPantherSuite(t *testing.T, id string, newDet func(t *testing.T) detectors.Detector, verdicts map[string]pantherVerdict, rules ...string) {
	t.Helper()
	cases := dt.PantherCases(t, filepath.Join("testdata", "panther", id+".jsonl"), rules...)
	for _, c := range cases {
		name := c.RuleID + "/" + c.TestName
		t.Run(name, func(t *testing.T) {
			v, ok := verdicts[name]
			if !ok {
				t.Fatalf("case has no verdict in the table")
			}
			if raised := v.want != detectors.SeverityUnknown; raised != c.Expected && v.differ == "" {
				t.Fatalf("verdict differs from Panther's (%v) without a reason", c.Expected)
			}
			fs := dt.Only(id, dt.New(t, newDet(t)).ScoreRaw(c.Event))
			det3CheckOne(t, fs, v.want, nil)
		})
	}
	if len(cases) != len(verdicts) {
		t.Errorf("%d cases for %d verdicts", len(cases), len(verdicts))
	}
}

func det3CheckOne(t *testing.T, fs []detectors.Finding, want detectors.Severity, evidence map[string]string) {
	t.Helper()
	if want == detectors.SeverityUnknown {
		if len(fs) != 0 {
			t.Fatalf("want no finding, got %v: %s", fs[0].Severity, fs[0].Explanation)
		}
		return
	}
	if len(fs) != 1 {
		t.Fatalf("want exactly one finding, got %d", len(fs))
	}
	f := fs[0]
	if f.Severity != want {
		t.Errorf("severity = %v, want %v (%s)", f.Severity, want, f.Explanation)
	}
	for k, v := range evidence {
		if f.Evidence[k] != v {
			t.Errorf("evidence[%s] = %q, want %q", k, f.Evidence[k], v)
		}
	}
}

func TestAccessKeyPersistenceExplains(t *testing.T) {
	tests := []struct {
		rec  dt.Rec
		want string
	}{
		{akpCreateKey("bob"), `arn:aws:iam::111122223333:user/alice (IAMUser) called CreateAccessKey from 203.0.113.10 ` +
			`for IAM user "bob" of account 111122223333 (new access key AKIAEXAMPLENEWKEY01): the caller is another IAM user; ` +
			`credentials minted for someone else are a classic backdoor`},
		{akpAsRoot(akpCreateKey("")), `the root user of account 111122223333 created access key AKIAEXAMPLENEWKEY01 for itself ` +
			`from 203.0.113.10: root access keys are unrestricted long-lived credentials that AWS and CIS say should not exist`},
	}
	for _, tt := range tests {
		vs := dt.New(t, newAKP(t, "")).Score(tt.rec)
		if vs[0].Outcome != engine.OutcomeAlert {
			t.Fatalf("outcome = %v, want ALERT", vs[0].Outcome)
		}
		if got := vs[0].Findings[0].Explanation; got != tt.want {
			t.Errorf("explanation:\n got %s\nwant %s", got, tt.want)
		}
		if got := vs[0].Findings[0].Techniques; len(got) != 1 || got[0] != "T1098.001" {
			t.Errorf("techniques = %v", got)
		}
	}
}

func TestAccessKeyPersistenceRejectsBadOptions(t *testing.T) {
	if _, err := builtin.NewAccessKeyPersistence(det3Config(nil, "self_servce: false")); err == nil {
		t.Error("an unknown key must be an error")
	}
}

// readStratus returns the records of a stratus-red-team detonation log
// copied into testdata/stratus (see its README for provenance).
func det3Stratus(t *testing.T, name string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "stratus", name))
	if err != nil {
		t.Fatal(err)
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = r
	}
	return out
}

// TestAccessKeyPersistenceStratus runs real detonations: an attacker's IAM
// user giving another user a console password, and resetting one.
func TestAccessKeyPersistenceStratus(t *testing.T) {
	for file, want := range map[string]string{
		"aws.persistence.iam-create-user-login-profile.json":          "CreateLoginProfile HIGH stratus-red-team-login-profile-user",
		"aws.privilege-escalation.iam-update-user-login-profile.json": "UpdateLoginProfile HIGH stratus-red-team-update-login-profile-user",
	} {
		t.Run(file, func(t *testing.T) {
			var got []string
			for _, f := range dt.Only(builtin.AccessKeyPersistenceID, dt.New(t, newAKP(t, "")).ScoreRaw(det3Stratus(t, file)...)) {
				got = append(got, f.EventName+" "+f.Severity.String()+" "+f.Evidence["target_user"])
			}
			if strings.Join(got, "; ") != want {
				t.Errorf("findings = %q, want %q", got, want)
			}
		})
	}
}

// TestAccessKeyPersistencePanther runs the Panther rule tests of the rules
// this detector overlaps. want is our verdict; where it differs from
// Panther's expectation the reason says why.
func TestAccessKeyPersistencePanther(t *testing.T) {
	none := detectors.SeverityUnknown
	verdicts := map[string]pantherVerdict{
		"AWS.IAM.Backdoor.User.Keys/user1 create keys for user1": {detectors.SeverityLow,
			"self-service key creation is kept as a LOW record of a new long-lived credential (self_service: false silences it)"},
		"AWS.IAM.Backdoor.User.Keys/user1 create keys for user2":      {want: detectors.SeverityHigh},
		"AWS.IAM.Backdoor.User.Keys/jackson create keys for jack":     {want: detectors.SeverityHigh},
		"AWS.IAM.Backdoor.User.Keys/jack create keys for jackson":     {want: detectors.SeverityHigh},
		"AWS.IAM.Backdoor.User.Keys/CreateKey returns error code":     {want: none},
		"AWS.CloudTrail.RootAccessKeyCreated/Root Access Key Created": {want: detectors.SeverityCritical},
		"AWS.CloudTrail.RootAccessKeyCreated/Root Created Access Key For User": {detectors.SeverityHigh,
			"Panther's rule covers only root's own key; root minting a key for a user is our HIGH backdoor case"},
		"AWS.CloudTrail.LoginProfileCreatedOrModified/ChangeOwnPassword": {detectors.SeverityHigh,
			"the caller is an assumed-role session whose name equals the user; session names are chosen by the caller, " +
				"so an assumed role is never taken for the user itself"},
		"AWS.CloudTrail.LoginProfileCreatedOrModified/User changed password for other": {want: detectors.SeverityHigh},
		"AWS.User.Login.Profile.Modified/ChangeOwnPassword": {detectors.SeverityHigh,
			"as for LoginProfileCreatedOrModified/ChangeOwnPassword: a role session name proves no identity"},
		"AWS.User.Login.Profile.Modified/User changed password for other": {want: detectors.SeverityHigh},
		"AWS.User.Login.Profile.Modified/User changed password for other reset required": {detectors.SeverityHigh,
			"Panther trusts passwordResetRequired (the user must choose a new password); whoever set the temporary " +
				"password can still sign in first, so we do not"},
		"AWS.IAM.CredentialsUpdated/User Password Was Changed": {none,
			"ChangePassword is a user changing its own password, knowing the old one: no new credential for anyone else"},
		"AWS.IAM.CredentialsUpdated/MFA Device Was Created":     {want: none},
		"AWS.IAM.CredentialsUpdated/User Password Change Error": {want: none},
	}
	runPantherSuite(t, builtin.AccessKeyPersistenceID, func(t *testing.T) detectors.Detector { return newAKP(t, "") }, verdicts,
		"AWS.IAM.Backdoor.User.Keys", "AWS.CloudTrail.RootAccessKeyCreated", "AWS.CloudTrail.LoginProfileCreatedOrModified",
		"AWS.User.Login.Profile.Modified", "AWS.IAM.CredentialsUpdated")
}
