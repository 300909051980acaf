package builtin_test

import (
	"bytes"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// All records here are generated (detectortest builders), shaped after the
// IAM records of panther-rule-tests and the request/response shapes of the
// IAM API reference; the policy documents are hand-written.

const (
	polARN    = "arn:aws:iam::111122223333:policy/ops"
	stAdmin   = `{"Effect":"Allow","Action":"*","Resource":"*"}`
	stS3Read  = `{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::app","arn:aws:s3:::app/*"]}`
	stPass    = `{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}`
	stPassOne = `{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::111122223333:role/app-lambda"}`
	stIAMGet  = `{"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}`
	stDenyAll = `{"Effect":"Deny","Action":"*","Resource":"*"}`
	stNotIAM  = `{"Effect":"Allow","NotAction":["iam:*","organizations:*"],"Resource":"*"}`
	stMFAAdm  = `{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}`
)

func doc(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

func trust(principal string) string {
	return doc(`{"Effect":"Allow","Principal":` + principal + `,"Action":"sts:AssumeRole"}`)
}

func createPolicy(name, document string, at time.Time) dt.Rec {
	return dt.IAM("CreatePolicy", at, map[string]any{"policyName": name, "policyDocument": document}).
		With("responseElements", map[string]any{"policy": map[string]any{
			"policyName": name, "arn": "arn:aws:iam::111122223333:policy/" + name, "defaultVersionId": "v1"}})
}

func createVersion(document, vid string, asDefault bool, at time.Time) dt.Rec {
	return dt.IAM("CreatePolicyVersion", at, map[string]any{"policyArn": polARN, "policyDocument": document, "setAsDefault": asDefault}).
		With("responseElements", map[string]any{"policyVersion": map[string]any{"versionId": vid, "isDefaultVersion": asDefault}})
}

func setDefault(vid string, at time.Time) dt.Rec {
	return dt.IAM("SetDefaultPolicyVersion", at, map[string]any{"policyArn": polARN, "versionId": vid})
}

func putInline(kind, target, name, document string, at time.Time) dt.Rec {
	events := map[string]string{"user": "PutUserPolicy", "role": "PutRolePolicy", "group": "PutGroupPolicy"}
	return dt.IAM(events[kind], at, map[string]any{kind + "Name": target, "policyName": name, "policyDocument": document})
}

func createRole(name, document string, at time.Time) dt.Rec {
	return dt.IAM("CreateRole", at, map[string]any{"roleName": name, "assumeRolePolicyDocument": document})
}

func updateTrust(name, document string, at time.Time) dt.Rec {
	return dt.IAM("UpdateAssumeRolePolicy", at, map[string]any{"roleName": name, "policyDocument": document})
}

func newPolicyWeakened(t testing.TB, s *detectors.Settings, options string) detectors.Detector {
	t.Helper()
	if s == nil {
		s = &detectors.Settings{}
	}
	cfg := detectors.Config{Settings: s}
	if options != "" {
		cfg.Options = yamlOptions(options)
	}
	d, err := builtin.NewPolicyWeakened(cfg)
	if err != nil {
		t.Fatalf("NewPolicyWeakened: %v", err)
	}
	return d
}

// yamlOptions decodes options as the config package does: strictly.
func yamlOptions(text string) detectors.Decoder {
	return func(v any) error {
		dec := yaml.NewDecoder(bytes.NewReader([]byte(text)))
		dec.KnownFields(true)
		return dec.Decode(v)
	}
}

func TestPolicyWeakenedContract(t *testing.T) {
	dt.Run(t, dt.Contract{
		New: func() detectors.Detector { return newPolicyWeakened(t, nil, "") },
		Loud: []dt.Rec{
			createPolicy("ops", doc(stS3Read), t0),
			createVersion(doc(stS3Read, stPass), "v2", true, t0.Add(time.Minute)),
			createVersion(doc(stAdmin), "v3", false, t0.Add(2*time.Minute)),
			setDefault("v3", t0.Add(3*time.Minute)),
			putInline("user", "bob", "inline", doc(stNotIAM), t0.Add(4*time.Minute)),
			createRole("vendor", trust(`{"AWS":"arn:aws:iam::999988887777:root"}`), t0.Add(5*time.Minute)),
			updateTrust("app", trust(`"*"`), t0.Add(6*time.Minute)),
			putInline("role", "r", "x", doc(stAdmin), t0.Add(7*time.Minute)).Failed("AccessDenied"),
		},
		Quiet: []dt.Rec{
			createPolicy("ops", doc(stS3Read, stPassOne, stIAMGet), t0),
			createVersion(doc(stS3Read), "v2", true, t0.Add(time.Minute)),
			putInline("group", "ops", "deny", doc(stDenyAll), t0.Add(2*time.Minute)),
			createRole("ec2", trust(`{"Service":"ec2.amazonaws.com"}`), t0.Add(3*time.Minute)),
			updateTrust("ec2", trust(`{"AWS":"arn:aws:iam::111122223333:root"}`), t0.Add(4*time.Minute)),
			createPolicy("x", doc(stAdmin), t0.Add(5*time.Minute)).Failed("MalformedPolicyDocument"),
			updateTrust("ec2", "", t0.Add(6*time.Minute)).Without("requestParameters.policyDocument"),
			dt.IAM("DeletePolicy", t0.Add(7*time.Minute), map[string]any{"policyArn": polARN}),
		},
	})
}

// pwWant is the expectation on the last record of a stream: no finding
// (sev zero) or one finding of sev whose explanation holds every part.
type pwWant struct {
	sev      detectors.Severity
	parts    []string
	evidence map[string]string
}

func TestPolicyWeakenedVerdicts(t *testing.T) {
	org := &detectors.Settings{Accounts: []string{"111122223333", "444455556666"}}
	tests := []struct {
		name     string
		settings *detectors.Settings
		options  string
		stream   []dt.Rec
		want     pwWant
	}{
		// Managed policies.
		{name: "new admin policy is CRITICAL", stream: []dt.Rec{createPolicy("ops", doc(stAdmin), t0)},
			want: pwWant{detectors.SeverityCritical, []string{"created managed policy arn:aws:iam::111122223333:policy/ops (version v1); it grants Action * on Resource *"},
				map[string]string{"policy_arn": polARN, "version_id": "v1", "previous": "none (new)", "policy_type": "managed"}}},
		{name: "Deny * on * is quiet", stream: []dt.Rec{createPolicy("ops", doc(stDenyAll), t0)}},
		{name: "least privilege is quiet", stream: []dt.Rec{createPolicy("ops", doc(stS3Read), t0)}},
		{name: "PassRole on one role is quiet", stream: []dt.Rec{createPolicy("ops", doc(stPassOne), t0)}},
		{name: "iam:Get* on * is not PassRole", stream: []dt.Rec{createPolicy("ops", doc(stIAMGet), t0)}},
		{name: "PassRole on * is HIGH", stream: []dt.Rec{createPolicy("ops", doc(stPass), t0)},
			want: pwWant{sev: detectors.SeverityHigh, parts: []string{"iam:PassRole on any role (iam:PassRole on *) [HIGH]"}}},
		{name: "PassRole through iam:Pass* in lower case is HIGH", stream: []dt.Rec{createPolicy("ops", doc(`{"Effect":"Allow","Action":"IAM:pass*","Resource":"*"}`), t0)},
			want: pwWant{sev: detectors.SeverityHigh, parts: []string{"(IAM:pass* on *)"}}},
		{name: "NotAction Allow is HIGH", stream: []dt.Rec{createPolicy("ops", doc(stNotIAM), t0)},
			want: pwWant{sev: detectors.SeverityHigh, parts: []string{"every action but a few on Resource * (NotAction iam:*,organizations:* on *) [HIGH]", "sts:* on Resource *"}}},
		{name: "organizations:* on * is HIGH", stream: []dt.Rec{createPolicy("ops", doc(`{"Effect":"Allow","Action":"organizations:*","Resource":"*"}`), t0)},
			want: pwWant{sev: detectors.SeverityHigh, parts: []string{"organizations:* on Resource *"}}},
		{name: "admin behind MFA condition is HIGH", stream: []dt.Rec{createPolicy("ops", doc(stMFAAdm), t0)},
			want: pwWant{sev: detectors.SeverityHigh, parts: []string{"it grants Action * on Resource *, only under a Condition on aws:MultiFactorAuthPresent [HIGH]"}}},
		{name: "URL-encoded admin document", stream: []dt.Rec{createPolicy("ops", url.QueryEscape(doc(stAdmin)), t0)},
			want: pwWant{sev: detectors.SeverityCritical}},
		{name: "identical new version is quiet", stream: []dt.Rec{createPolicy("ops", doc(stPass), t0), createVersion(doc(stPass), "v2", true, t0.Add(time.Minute))}},
		{name: "narrower new version is quiet", stream: []dt.Rec{createPolicy("ops", doc(stAdmin), t0), createVersion(doc(stPass), "v2", true, t0.Add(time.Minute))}},
		{name: "broader new version says what it adds", stream: []dt.Rec{createPolicy("ops", doc(stPass), t0), createVersion(doc(stAdmin), "v2", true, t0.Add(time.Minute))},
			want: pwWant{detectors.SeverityCritical, []string{"created version v2 of managed policy " + polARN + " as its default; compared with the previous default version v1 it adds Action * on Resource * [CRITICAL]"},
				map[string]string{"previous": "the previous default version v1"}}},
		{name: "dropping a condition counts", stream: []dt.Rec{createPolicy("ops", doc(stMFAAdm), t0), createVersion(doc(stAdmin), "v2", true, t0.Add(time.Minute))},
			want: pwWant{sev: detectors.SeverityCritical, parts: []string{"it drops the Condition on Action * on Resource *"}}},
		{name: "version of a policy never seen counts whole", stream: []dt.Rec{createVersion(doc(stPass), "v7", true, t0)},
			want: pwWant{sev: detectors.SeverityHigh, parts: []string{"(the document it replaces was not seen, so all of it counts)"}, evidence: map[string]string{"previous": "not seen"}}},
		{name: "non-default version is only remembered", stream: []dt.Rec{createPolicy("ops", doc(stS3Read), t0), createVersion(doc(stAdmin), "v2", false, t0.Add(time.Minute))}},
		{name: "setAsDefault as a string", stream: []dt.Rec{createPolicy("ops", doc(stS3Read), t0), createVersion(doc(stAdmin), "v2", false, t0.Add(time.Minute)).With("requestParameters.setAsDefault", "true")},
			want: pwWant{sev: detectors.SeverityCritical}},
		{name: "set default to a remembered broader version", stream: []dt.Rec{
			createPolicy("ops", doc(stS3Read), t0), createVersion(doc(stAdmin), "v2", false, t0.Add(time.Minute)), setDefault("v2", t0.Add(time.Hour))},
			want: pwWant{sev: detectors.SeverityCritical, parts: []string{"made version v2 the default of managed policy " + polARN + "; compared with the previous default version v1 it adds Action * on Resource *"}}},
		{name: "roll back to a remembered broader version", stream: []dt.Rec{
			createPolicy("ops", doc(stAdmin), t0), createVersion(doc(stS3Read), "v2", true, t0.Add(time.Minute)), setDefault("v1", t0.Add(time.Hour))},
			want: pwWant{sev: detectors.SeverityCritical, parts: []string{"compared with the previous default version v2 it adds Action * on Resource *"}}},
		{name: "roll back to a remembered narrower version is quiet", stream: []dt.Rec{
			createPolicy("ops", doc(stS3Read), t0), createVersion(doc(stAdmin), "v2", true, t0.Add(time.Minute)), setDefault("v1", t0.Add(time.Hour))}},
		{name: "set default to an unseen version is LOW", stream: []dt.Rec{setDefault("v4", t0)},
			want: pwWant{sev: detectors.SeverityLow, parts: []string{"made version v4 the default of managed policy " + polARN + "; its document was not seen by iamsentry"}}},
		{name: "unseen versions can be silenced", options: "report_unseen_versions: false", stream: []dt.Rec{setDefault("v4", t0)}},
		{name: "set default to the current default is quiet", stream: []dt.Rec{createPolicy("ops", doc(stAdmin), t0), setDefault("v1", t0.Add(time.Minute))}},
		{name: "malformed document is LOW", stream: []dt.Rec{createPolicy("ops", `{"Statement":[{"Effect":"Allw","Action":"*","Resource":"*"}]}`, t0)},
			want: pwWant{detectors.SeverityLow, []string{`but the document could not be analyzed (malformed policy document: Statement 1: Effect "Allw" is neither Allow nor Deny); review it by hand`},
				map[string]string{"analysis_error": `malformed policy document: Statement 1: Effect "Allw" is neither Allow nor Deny`}}},
		{name: "after a malformed document the next is judged whole", stream: []dt.Rec{
			createPolicy("ops", doc(stPass), t0), createVersion("not json", "v2", true, t0.Add(time.Minute)), createVersion(doc(stPass), "v3", true, t0.Add(2*time.Minute))},
			want: pwWant{sev: detectors.SeverityHigh}},
		{name: "denied attempt is LOW", stream: []dt.Rec{createPolicy("ops", doc(stAdmin), t0).Failed("AccessDenied")},
			want: pwWant{detectors.SeverityLow, []string{"tried to create managed policy " + polARN + " (version v1), which would grant Action * on Resource *", "the call failed with AccessDenied"},
				map[string]string{"error_code": "AccessDenied"}}},
		{name: "denied attempts can be silenced", options: "report_denied: false", stream: []dt.Rec{createPolicy("ops", doc(stAdmin), t0).Failed("AccessDenied")}},
		{name: "other failures are quiet", stream: []dt.Rec{createPolicy("ops", doc(stAdmin), t0).Failed("EntityAlreadyExists")}},
		{name: "failed call changes no state", stream: []dt.Rec{
			createPolicy("ops", doc(stS3Read), t0), createVersion(doc(stAdmin), "v2", true, t0.Add(time.Minute)).Failed("LimitExceeded"),
			createVersion(doc(stAdmin), "v3", true, t0.Add(2*time.Minute))},
			want: pwWant{sev: detectors.SeverityCritical, parts: []string{"previous default version v1"}}},
		{name: "CreatePolicy without a response rebuilds the ARN", stream: []dt.Rec{
			createPolicy("ops", doc(stPass), t0).With("responseElements", nil).With("requestParameters.path", "/team/")},
			want: pwWant{sev: detectors.SeverityHigh, evidence: map[string]string{"policy_arn": "arn:aws:iam::111122223333:policy/team/ops"}}},

		// Inline policies.
		{name: "inline admin on a role", stream: []dt.Rec{putInline("role", "app", "boost", doc(stAdmin), t0)},
			want: pwWant{detectors.SeverityCritical, []string{`put inline policy "boost" of role "app"; it grants Action * on Resource *`},
				map[string]string{"target_type": "role", "target_name": "app", "policy_name": "boost", "policy_type": "inline"}}},
		{name: "inline rewrite no broader is quiet", stream: []dt.Rec{putInline("user", "bob", "p", doc(stPass, stS3Read), t0), putInline("user", "bob", "p", doc(stPass), t0.Add(time.Minute))}},
		{name: "inline rewrite broader adds", stream: []dt.Rec{putInline("group", "ops", "p", doc(stS3Read), t0), putInline("group", "ops", "p", doc(stS3Read, stPass), t0.Add(time.Minute))},
			want: pwWant{sev: detectors.SeverityHigh, parts: []string{"compared with the previous document it adds iam:PassRole on any role"}}},
		{name: "inline policies are kept apart by name", stream: []dt.Rec{putInline("user", "bob", "a", doc(stPass), t0), putInline("user", "bob", "b", doc(stPass), t0.Add(time.Minute))},
			want: pwWant{sev: detectors.SeverityHigh}},

		// Trust policies.
		{name: "trust to anyone", stream: []dt.Rec{updateTrust("app", trust(`{"AWS":"*"}`), t0)},
			want: pwWant{sev: detectors.SeverityHigh, parts: []string{`updated the trust policy of role "app"; it grants sts:AssumeRole by any AWS principal (AWS "*") [HIGH]`}}},
		{name: "trust to anyone with ExternalId is MEDIUM", stream: []dt.Rec{updateTrust("app", doc(`{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"12345"}}}`), t0)},
			want: pwWant{sev: detectors.SeverityMedium, parts: []string{"only under a Condition on sts:ExternalId [MEDIUM]"}}},
		{name: "trust to a service is quiet", stream: []dt.Rec{createRole("fn", trust(`{"Service":"lambda.amazonaws.com"}`), t0)}},
		{name: "trust to the own account without accounts is quiet", stream: []dt.Rec{createRole("x", trust(`{"AWS":"arn:aws:iam::111122223333:role/ci"}`), t0)}},
		{name: "trust to another account without accounts", stream: []dt.Rec{createRole("x", trust(`{"AWS":"444455556666"}`), t0)},
			want: pwWant{detectors.SeverityHigh, []string{`created role "x" with a trust policy; it grants sts:AssumeRole by account 444455556666 (AWS "444455556666") [HIGH: account 444455556666 is not the event's account 111122223333, and no accounts are configured]`},
				map[string]string{"reason": "account 444455556666 is not the event's account 111122223333, and no accounts are configured"}}},
		{name: "trust to an org account listed in accounts is quiet", settings: org, stream: []dt.Rec{createRole("x", trust(`{"AWS":"arn:aws:iam::444455556666:root"}`), t0)}},
		{name: "trust to an account outside accounts", settings: org, stream: []dt.Rec{updateTrust("x", trust(`{"AWS":["arn:aws:iam::444455556666:root","999988887777"]}`), t0)},
			want: pwWant{sev: detectors.SeverityHigh, parts: []string{"by account 999988887777", "account 999988887777 is not in accounts nor in trusted_accounts"}}},
		{name: "trust to a trusted vendor account is quiet", settings: org, options: "trusted_accounts: ['999988887777']",
			stream: []dt.Rec{updateTrust("x", trust(`{"AWS":"999988887777"}`), t0)}},
		{name: "trust update keeping a known foreign account is quiet", stream: []dt.Rec{
			createRole("x", trust(`{"AWS":"999988887777"}`), t0), updateTrust("x", doc(`{"Effect":"Allow","Principal":{"AWS":"999988887777","Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}`), t0.Add(time.Minute))}},
		{name: "GitHub OIDC without sub is HIGH", stream: []dt.Rec{createRole("gha", doc(`{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}`), t0)},
			want: pwWant{sev: detectors.SeverityHigh, parts: []string{"web-identity federation from token.actions.githubusercontent.com without a condition naming which identities"}}},
		{name: "GitHub OIDC with a repo sub is quiet", stream: []dt.Rec{createRole("gha", doc(`{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:example/app:*"}}}`), t0)}},
		{name: "SAML federation is quiet", stream: []dt.Rec{createRole("sso", doc(`{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:saml-provider/Okta"},"Action":"sts:AssumeRoleWithSAML"}`), t0)}},
		{name: "trust document already an object", stream: []dt.Rec{dt.IAM("UpdateAssumeRolePolicy", t0, map[string]any{"roleName": "o", "policyDocument": map[string]any{"Statement": map[string]any{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}}})},
			want: pwWant{sev: detectors.SeverityHigh}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := dt.New(t, newPolicyWeakened(t, tt.settings, tt.options)).Stream(tt.stream...)
			fs := dt.Only(builtin.PolicyWeakenedID, vs[len(vs)-1:])
			if tt.want.sev == 0 {
				if len(fs) != 0 {
					t.Fatalf("want no finding, got %v: %s", fs[0].Severity, fs[0].Explanation)
				}
				return
			}
			if len(fs) != 1 {
				t.Fatalf("want one finding, got %d", len(fs))
			}
			f := fs[0]
			if f.Severity != tt.want.sev {
				t.Errorf("severity = %v, want %v (%s)", f.Severity, tt.want.sev, f.Explanation)
			}
			for _, p := range tt.want.parts {
				if !strings.Contains(f.Explanation, p) {
					t.Errorf("explanation lacks %q:\n%s", p, f.Explanation)
				}
			}
			for k, v := range tt.want.evidence {
				if f.Evidence[k] != v {
					t.Errorf("evidence[%s] = %q, want %q", k, f.Evidence[k], v)
				}
			}
		})
	}
}

func TestPolicyWeakenedExplains(t *testing.T) {
	org := &detectors.Settings{Accounts: []string{"111122223333"}}
	vs := dt.New(t, newPolicyWeakened(t, org, "")).Stream(
		createRole("deploy", trust(`{"Service":"codebuild.amazonaws.com"}`), t0),
		updateTrust("deploy", trust(`{"Service":"codebuild.amazonaws.com","AWS":"arn:aws:iam::999988887777:root"}`), t0.Add(time.Minute)))
	fs := dt.Only(builtin.PolicyWeakenedID, vs)
	if len(fs) != 1 {
		t.Fatalf("want one finding, got %d", len(fs))
	}
	want := `arn:aws:iam::111122223333:user/alice from 203.0.113.10 updated the trust policy of role "deploy"; ` +
		`compared with the previous document it adds sts:AssumeRole by account 999988887777 (AWS "arn:aws:iam::999988887777:root") ` +
		`[HIGH: account 999988887777 is not in accounts nor in trusted_accounts]`
	if fs[0].Explanation != want {
		t.Errorf("explanation:\n got %s\nwant %s", fs[0].Explanation, want)
	}
	if got := fs[0].Techniques; len(got) != 2 || got[0] != "T1098.003" || got[1] != "T1484" {
		t.Errorf("techniques = %v", got)
	}
}

func TestPolicyWeakenedOptions(t *testing.T) {
	for _, bad := range []string{"state_ttl: 10m", "trusted_accounts: ['12345']", "unknown_key: 1", "report_denied: maybe"} {
		cfg := detectors.Config{Settings: &detectors.Settings{}, Options: yamlOptions(bad)}
		if _, err := builtin.NewPolicyWeakened(cfg); err == nil {
			t.Errorf("options %q accepted", bad)
		}
	}
	cfg := detectors.Config{Settings: &detectors.Settings{}, Options: yamlOptions("state_ttl: 720h\ntrusted_accounts: ['999988887777']")}
	if _, err := builtin.NewPolicyWeakened(cfg); err != nil {
		t.Errorf("good options rejected: %v", err)
	}
	d := newPolicyWeakened(t, nil, "")
	if n := d.(detectors.Notable).Notes(); len(n) != 1 || !strings.Contains(n[0], "no accounts configured") {
		t.Errorf("without accounts the detector must say how it judges trust policies; notes %v", n)
	}
	if n := newPolicyWeakened(t, &detectors.Settings{Accounts: []string{"111122223333"}}, "").(detectors.Notable).Notes(); len(n) != 0 {
		t.Errorf("with accounts: notes %v", n)
	}
}

func TestPolicyWeakenedIsBuiltin(t *testing.T) {
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(reg.IDs(), builtin.PolicyWeakenedID) {
		t.Errorf("Builtin lacks %s: %v", builtin.PolicyWeakenedID, reg.IDs())
	}
}
