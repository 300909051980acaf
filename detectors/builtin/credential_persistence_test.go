package builtin_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Records built here are generated (detectortest builders), shaped after
// the API reference of each call and, for Roles Anywhere and federation
// tokens, after the stratus-red-team detonations in testdata/stratus.

func newCP(t testing.TB, s *detectors.Settings, doc string) detectors.Detector {
	t.Helper()
	d, err := builtin.NewCredentialPersistence(det3Config(s, doc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func cpFederationToken(policyDoc string, arns ...string) dt.Rec {
	params := map[string]any{"name": "ops-helper", "durationSeconds": 129600}
	if policyDoc != "" {
		params["policy"] = policyDoc
	}
	var pas []any
	for _, a := range arns {
		pas = append(pas, map[string]any{"arn": a})
	}
	if pas != nil {
		params["policyArns"] = pas
	}
	return dt.Base("sts.amazonaws.com", "GetFederationToken", t0).With("requestParameters", params)
}

func cpSSHKey(user string) dt.Rec {
	return dt.IAM("UploadSSHPublicKey", t0, map[string]any{"userName": user, "sSHPublicKeyBody": "ssh-rsa AAAA"})
}

func cpServiceCred(user string) dt.Rec {
	return dt.IAM("CreateServiceSpecificCredential", t0, map[string]any{"userName": user, "serviceName": "codecommit.amazonaws.com"})
}

func cpUpdateKey(user, status string) dt.Rec {
	p := map[string]any{"accessKeyId": "AKIAEXAMPLEOLDKEY01", "status": status}
	if user != "" {
		p["userName"] = user
	}
	return dt.IAM("UpdateAccessKey", t0, p)
}

func cpAssumeRoot(task string) dt.Rec {
	return dt.Base("sts.amazonaws.com", "AssumeRoot", t0).With("requestParameters", map[string]any{
		"targetPrincipal": "444455556666", "taskPolicyArn": map[string]any{"arn": "arn:aws:iam::aws:policy/root-task/" + task}}).
		AsAssumedRole("OrgSecurity", "alice")
}

func cpOIDCProvider(at time.Time) dt.Rec {
	return dt.IAM("CreateOpenIDConnectProvider", at, map[string]any{"url": "https://token.actions.githubusercontent.com",
		"clientIDList": []string{"sts.amazonaws.com"}}).
		With("responseElements", map[string]any{"openIDConnectProviderArn": ghProvider})
}

func cpSAMLProvider(at time.Time) dt.Rec {
	return dt.IAM("CreateSAMLProvider", at, map[string]any{"name": "corp-idp", "sAMLMetadataDocument": "<x/>"})
}

func cpAnchor(at time.Time) dt.Rec {
	return dt.Base("rolesanywhere.amazonaws.com", "CreateTrustAnchor", at).With("requestParameters", map[string]any{
		"name": "ca", "enabled": true, "source": map[string]any{"sourceType": "CERTIFICATE_BUNDLE"}})
}

func cpProfile(at time.Time, roles ...string) dt.Rec {
	return dt.Base("rolesanywhere.amazonaws.com", "CreateProfile", at).With("requestParameters", map[string]any{
		"name": "p", "roleArns": roles})
}

const (
	adminRoleARN = "arn:aws:iam::111122223333:role/AdminAccess"
	appRoleARN   = "arn:aws:iam::111122223333:role/app"
)

func TestCredentialPersistenceContract(t *testing.T) {
	dt.Run(t, dt.Contract{
		New: func() detectors.Detector { return newCP(t, orgSettings, "self_service: false") },
		Loud: []dt.Rec{
			cpFederationToken(doc(stAdmin)),
			cpSSHKey("bob"),
			cpUpdateKey("bob", "Active"),
			cpAssumeRoot("IAMDeleteRootUserCredentials"),
			cpOIDCProvider(t0),
			cpAnchor(t0),
		},
		Quiet: []dt.Rec{
			cpFederationToken(doc(stS3Read)),
			cpSSHKey("alice"),
			cpServiceCred(""),
			cpUpdateKey("bob", "Inactive"),
			cpSSHKey("bob").Failed("AccessDenied"),
			cpProfile(t0, appRoleARN),
			createRole("ci", ghTrust("repo:acme/x:*"), t0),
		},
	})
}

func TestCredentialPersistenceVerdicts(t *testing.T) {
	none := detectors.SeverityUnknown
	breakGlass := "break_glass_principals: [\"arn:aws:iam::111122223333:role/OrgSecurity\"]"
	tests := []struct {
		name     string
		opts     string
		rec      dt.Rec
		want     detectors.Severity
		evidence map[string]string
	}{
		{name: "federation token with Action * session policy", rec: cpFederationToken(doc(stAdmin)), want: detectors.SeverityHigh,
			evidence: map[string]string{"federated_user": "ops-helper"}},
		{name: "federation token with NotAction session policy", rec: cpFederationToken(doc(stNotIAM)), want: detectors.SeverityHigh},
		{name: "federation token with AdministratorAccess as managed session policy", want: detectors.SeverityHigh,
			rec: cpFederationToken("", "arn:aws:iam::aws:policy/AdministratorAccess")},
		{name: "federation token with a narrow session policy is LOW", rec: cpFederationToken(doc(stS3Read)), want: detectors.SeverityLow},
		{name: "federation token with a narrow policy, self_service off", opts: "self_service: false", rec: cpFederationToken(doc(stS3Read)), want: none},
		{name: "federation token by an assumed role cannot exist", rec: cpFederationToken(doc(stAdmin)).AsAssumedRole("x", "y"), want: none},
		{name: "SSH key for another user", rec: cpSSHKey("bob"), want: detectors.SeverityHigh, evidence: map[string]string{"target_user": "bob", "self": "false"}},
		{name: "SSH key for itself", rec: cpSSHKey("alice"), want: detectors.SeverityLow, evidence: map[string]string{"self": "true"}},
		{name: "service-specific credential for another user by a role", rec: cpServiceCred("bob").AsAssumedRole("Admin", "bob"), want: detectors.SeverityHigh},
		{name: "service-specific credential for itself", rec: cpServiceCred(""), want: detectors.SeverityLow},
		{name: "another user's key back to Active", rec: cpUpdateKey("bob", "Active"), want: detectors.SeverityHigh},
		{name: "own key back to Active", rec: cpUpdateKey("", "Active"), want: detectors.SeverityMedium},
		{name: "key deactivated", rec: cpUpdateKey("bob", "Inactive"), want: none},
		{name: "AssumeRoot", rec: cpAssumeRoot("IAMDeleteRootUserCredentials"), want: detectors.SeverityHigh,
			evidence: map[string]string{"target_account": "444455556666"}},
		{name: "AssumeRoot to audit root credentials", rec: cpAssumeRoot("IAMAuditRootUserCredentials"), want: detectors.SeverityMedium},
		{name: "AssumeRoot by the break-glass role", opts: breakGlass, rec: cpAssumeRoot("IAMDeleteRootUserCredentials"), want: detectors.SeverityLow},
		{name: "SAML provider alone", rec: cpSAMLProvider(t0), want: detectors.SeverityMedium,
			evidence: map[string]string{"provider": "arn:aws:iam::111122223333:saml-provider/corp-idp"}},
		{name: "Identity Center creating its own SAML provider", want: none,
			rec: cpSAMLProvider(t0).AsAssumedRole("AWSServiceRoleForSSO", "AWS-SSO").With("userIdentity.invokedBy", "sso.amazonaws.com")},
		{name: "trust anchor alone", rec: cpAnchor(t0), want: detectors.SeverityMedium},
		{name: "profile for an ordinary role alone", rec: cpProfile(t0, appRoleARN), want: detectors.SeverityLow},
		{name: "profile for a privileged role alone", rec: cpProfile(t0, adminRoleARN), want: detectors.SeverityMedium},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := dt.Only(builtin.CredentialPersistenceID, dt.New(t, newCP(t, orgSettings, tt.opts)).Score(tt.rec))
			det3CheckOne(t, fs, tt.want, tt.evidence)
		})
	}
}

func TestCredentialPersistenceRejectsBadOptions(t *testing.T) {
	for _, doc := range []string{"pair_window: 1s", "break_glass_principals: [OrgSecurity]", "pair_windw: 1h"} {
		if _, err := builtin.NewCredentialPersistence(det3Config(nil, doc)); err == nil {
			t.Errorf("%q must be an error", doc)
		}
	}
}

// stratusVerdict scores a Stratus detonation file with d and renders its
// findings of d as "<event> <severity>; ...".
func stratusVerdict(t *testing.T, d detectors.Detector, file string) string {
	t.Helper()
	var got []string
	for _, f := range dt.Only(d.Info().ID, dt.New(t, d).ScoreRaw(det3Stratus(t, file)...)) {
		got = append(got, f.EventName+" "+f.Severity.String())
	}
	return strings.Join(got, "; ")
}

// TestCredentialPersistenceStratus runs the real detonations of the
// techniques this detector covers.
func TestCredentialPersistenceStratus(t *testing.T) {
	privileged := &detectors.Settings{PrivilegedRoles: []string{"arn:aws:iam::*:role/stratus-red-team-*"}}
	for _, tt := range []struct {
		file     string
		settings *detectors.Settings
		want     string
	}{
		{"aws.persistence.sts-federation-token.json", nil, "GetFederationToken HIGH"},
		{"aws.persistence.rolesanywhere-create-trust-anchor.json", nil, "CreateTrustAnchor MEDIUM; CreateProfile MEDIUM"},
		{"aws.persistence.rolesanywhere-create-trust-anchor.json", privileged, "CreateTrustAnchor MEDIUM; CreateProfile HIGH"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			if got := stratusVerdict(t, newCP(t, tt.settings, ""), tt.file); got != tt.want {
				t.Errorf("findings = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFederationTokenCustomerPolicy: a customer managed session policy is
// judged by the summary policy-weakened kept of its default version.
func TestFederationTokenCustomerPolicy(t *testing.T) {
	for _, tt := range []struct {
		name, document string
		want           detectors.Severity
	}{
		{"customer policy granting everything", doc(stAdmin), detectors.SeverityHigh},
		{"narrow customer policy", doc(stS3Read), detectors.SeverityLow},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := dt.New(t, newPolicyWeakened(t, nil, ""), newCP(t, nil, ""))
			vs := h.Stream(createPolicy("session", tt.document, t0),
				cpFederationToken("", "arn:aws:iam::111122223333:policy/session").With("eventTime", t0.Add(time.Hour).Format(time.RFC3339)))
			det3CheckOne(t, dt.Only(builtin.CredentialPersistenceID, vs), tt.want, nil)
		})
	}
}

// TestCredentialPersistencePanther runs the Panther rule tests of the rule
// this detector overlaps.
func TestCredentialPersistencePanther(t *testing.T) {
	none := detectors.SeverityUnknown
	verdicts := map[string]pantherVerdict{
		"AWS.Suspicious.SAML.Activity/CreateSAMLProvider": {want: detectors.SeverityMedium},
		"AWS.Suspicious.SAML.Activity/UpdateSAMLProvider": {want: detectors.SeverityMedium},
		"AWS.Suspicious.SAML.Activity/DeleteSAMLProvider": {none,
			"deleting a provider removes a way in; it is an availability matter, not persistence"},
		"AWS.Suspicious.SAML.Activity/Non Target Event":                          {want: none},
		"AWS.Suspicious.SAML.Activity/Activity from AWSSSO Service Managed Role": {want: none},
	}
	runPantherSuite(t, builtin.CredentialPersistenceID, func(t *testing.T) detectors.Detector { return newCP(t, nil, "") }, verdicts,
		"AWS.Suspicious.SAML.Activity")
}

// TestFederationBroker: a user that has minted broad federation tokens
// every day for more than a week is a broker; a first broad token is not.
func TestFederationBroker(t *testing.T) {
	h := dt.New(t, newCP(t, nil, ""))
	var got []detectors.Severity
	for d := range 9 {
		vs := h.Score(cpFederationToken(doc(stAdmin)).With("eventTime", day(d).Format(time.RFC3339)))
		for _, f := range dt.Only(builtin.CredentialPersistenceID, vs) {
			got = append(got, f.Severity)
		}
	}
	high, low := detectors.SeverityHigh, detectors.SeverityLow
	if want := []detectors.Severity{high, high, high, high, high, high, high, low, low}; !slices.Equal(got, want) {
		t.Errorf("severities = %v, want %v", got, want)
	}
	other := dt.Only(builtin.CredentialPersistenceID, h.Score(cpFederationToken(doc(stAdmin)).
		With("eventTime", day(9).Format(time.RFC3339)).With("userIdentity.arn", "arn:aws:iam::111122223333:user/bob")))
	det3CheckOne(t, other, high, nil)
}
