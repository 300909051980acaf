package builtin_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// pantherPolicyWeakened is our verdict on each Panther case copied into
// testdata/panther/policy_weakened.jsonl (real and hand-written records of
// panther-analysis; see its README). differs says why we intentionally
// disagree with Panther's expected_result; "" means we agree.
var pantherPolicyWeakened = map[string]struct {
	fires   bool
	differs string
}{
	// AWS.IAM.BackdoorRole: a trust policy opened to the internet.
	"AWS.IAM.BackdoorRole/IAM Role Policy Updated to Allow Internet Access": {fires: true}, // Principal "*" behind sts:ExternalId: MEDIUM
	"AWS.IAM.BackdoorRole/IAM Role Policy Updated Without Internet Access":  {},            // ec2.amazonaws.com service principal
	"AWS.IAM.BackdoorRole/IAM Role Policy Updated With No Policy Document":  {},            // nothing to judge

	// AWS.IAM.PolicyModified fires on any IAM policy change, removals included.
	"AWS.IAM.PolicyModified/IAM Policy Change":       {differs: "DeleteGroupPolicy removes permissions: a deletion never weakens a policy"},
	"AWS.IAM.PolicyModified/Not IAM Policy Change":   {},
	"AWS.IAM.PolicyModified/IAM Policy Change Error": {},

	// AWS.CloudTrail.IAMAnythingChanged fires on every IAM write.
	"AWS.CloudTrail.IAMAnythingChanged/IAM Change":              {differs: "AttachRolePolicy of a managed policy carries no document; admin attachments are admin-policy-attached's"},
	"AWS.CloudTrail.IAMAnythingChanged/IAM Read Only Activity":  {},
	"AWS.CloudTrail.IAMAnythingChanged/Error Making IAM Change": {},

	// AWS.IAM.AccessKeyCompromised fires on AWS attaching its quarantine policy.
	"AWS.IAM.AccessKeyCompromised/An AWS IAM Access Key was Compromised": {differs: "the policy is all Deny: it narrows the user; a compromised key is another detector's signal"},
	"AWS.IAM.AccessKeyCompromised/Request Param is null":                 {},

	"AWS.CloudTrail.IAMCompromisedKeyQuarantine/PutUserPolicy-false": {}, // Deny * on *: never weakens

	// AWS.IAM.CreateRole fires on every new role.
	"AWS.IAM.CreateRole/IAM Role Created":     {differs: "a new role is not a weakening; this record has no assumeRolePolicyDocument to judge"},
	"AWS.IAM.CreateRole/IAM Role Not Created": {},

	// AWS.S3.BucketPolicyModified: S3 ACLs and bucket policies are out of scope (IAM policies only).
	"AWS.S3.BucketPolicyModified/S3 Bucket Policy Modified":                {differs: "PutBucketAcl is an S3 ACL, not an IAM policy document"},
	"AWS.S3.BucketPolicyModified/S3 Bucket Policy Modified Error Response": {},
	"AWS.S3.BucketPolicyModified/S3 Bucket Policy Not Modified":            {},
}

func TestPolicyWeakenedPanther(t *testing.T) {
	cases := dt.PantherCases(t, "testdata/panther/policy_weakened.jsonl",
		"AWS.IAM.BackdoorRole", "AWS.IAM.PolicyModified", "AWS.CloudTrail.IAMAnythingChanged",
		"AWS.IAM.AccessKeyCompromised", "AWS.CloudTrail.IAMCompromisedKeyQuarantine", "AWS.IAM.CreateRole",
		"AWS.S3.BucketPolicyModified")
	if len(cases) != len(pantherPolicyWeakened) {
		t.Errorf("%d cases in the file, %d verdicts in the table: every case needs a stated verdict", len(cases), len(pantherPolicyWeakened))
	}
	for _, c := range cases {
		name := c.RuleID + "/" + c.TestName
		t.Run(name, func(t *testing.T) {
			want, ok := pantherPolicyWeakened[name]
			if !ok {
				t.Fatalf("no verdict stated for this case")
			}
			if (want.fires != c.Expected) != (want.differs != "") {
				t.Fatalf("table: fires=%v against Panther's %v must come with a reason exactly when they differ", want.fires, c.Expected)
			}
			// A fresh store per case: Panther fixtures reuse event ids.
			d, err := builtin.NewPolicyWeakened(detectors.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			fs := dt.Only(builtin.PolicyWeakenedID, dt.New(t, d).ScoreRaw(c.Event))
			if got := len(fs) > 0; got != want.fires {
				t.Errorf("fires = %v, want %v (Panther: %v)", got, want.fires, c.Expected)
				for _, f := range fs {
					t.Logf("%v: %s", f.Severity, f.Explanation)
				}
			}
		})
	}
}
