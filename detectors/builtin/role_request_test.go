package builtin

import (
	"encoding/json"
	"testing"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
)

// TestRoleParamsAsOwnDecode: the role a detector reads from the request
// parameters, through the event's RoleRequest, is what decoding into the
// detector's own struct gave, also when the RoleRequest does not decode
// and the detector's struct does (a field only RoleRequest has, of
// another type).
func TestRoleParamsAsOwnDecode(t *testing.T) {
	for _, raw := range []string{
		`{"roleArn":"arn:aws:iam::111122223333:role/Deploy","roleSessionName":"ci-42","roleName":"Deploy","accountId":"111122223333"}`,
		`{"roleArn":"arn:aws:iam::111122223333:role/Deploy","roleName":42}`,      // RoleRequest fails; roleArn alone decodes
		`{"roleArn":"arn:aws:iam::111122223333:role/Deploy","sourceIdentity":1}`, // the same
		`{"roleArn":7}`,
		`{"roleArn":"arn:aws:iam::111122223333:role/A"`,
		`null`,
	} {
		for _, name := range []string{"AssumeRole", "GetRoleCredentials"} {
			r := &cloudtrail.Record{EventName: name, RequestParameters: json.RawMessage(raw)}
			var own struct {
				RoleARN   string `json:"roleArn"`
				RoleName  string `json:"roleName"`
				AccountID string `json:"accountId"`
			}
			_ = r.Params(&own) // an odd shape leaves fields empty, as signInRole had it
			var one struct {
				RoleARN string `json:"roleArn"`
			}
			oneErr := r.Params(&one)
			if arn, err := roleARNParam(&detectors.Event{Record: r}); (err != nil) != (oneErr != nil) || arn != one.RoleARN {
				t.Errorf("%s: roleARNParam = %q, %v; its own decode %q, %v", raw, arn, err, one.RoleARN, oneErr)
			}
			want := own.RoleARN
			if name == "GetRoleCredentials" {
				want = ""
				if own.RoleName != "" {
					want = "arn:aws:iam::" + own.AccountID + ":role/aws-reserved/sso.amazonaws.com/" + own.RoleName
				}
			}
			if got := signInRole(&detectors.Event{Record: r}); got != want {
				t.Errorf("%s %s: signInRole = %q, its own decode says %q", name, raw, got, want)
			}
		}
	}
}
