package detectors_test

import (
	"encoding/json"
	"testing"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
)

// roleRequestSeeds are request parameters of the calls that name a role,
// as CloudTrail writes them and as odd exports and forgeries may.
var roleRequestSeeds = []string{
	`{"roleArn":"arn:aws:iam::111122223333:role/Deploy","roleSessionName":"ci-42","durationSeconds":3600}`,
	`{"roleArn":"arn:aws:iam::111122223333:role/Deploy","roleSessionName":"alice@example.com","sourceIdentity":"alice","tags":[{"key":"team","value":"x"}],"policyArns":[{"arn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}]}`,
	`{"roleName":"AdministratorAccess","accountId":"111122223333"}`,
	`{"RoleArn":"arn:aws:iam::1:role/A","ROLESESSIONNAME":"x","roleArn":"arn:aws:iam::1:role/B"}`,
	`{"roleArn":"arn:aws:iam::1:role/A","roleArn":"arn:aws:iam::1:role/C"}`,
	`{"roleArn":null,"roleSessionName":"s"}`,
	`{"roleArn":"\u0061rn:aws:iam::1:role/\"q\"","roleSessionName":"\ud83d\ude00"}`,
	`{"roleArn":"arn:aws:iam::1:role/A","roleName":42}`,
	`{"roleArn":"arn:aws:iam::1:role/A","accountId":["1"]}`,
	`{"roleArn":{"x":1},"roleSessionName":"s"}`,
	`{"roleArn":"arn:aws:iam::1:role/A"`,
	`null`, `[]`, `"x"`, `{}`, ``, `{"roleArn":"a","roleArn":5}`,
}

// TestRoleRequestIsEachDecode: whenever an event's RoleRequest decoded,
// each detector's own struct of its fields decodes the parameters without
// error to the same values (see Event.RoleRequest); the RoleRequest is
// worked out once per event.
func TestRoleRequestIsEachDecode(t *testing.T) {
	decoded := 0
	for _, raw := range roleRequestSeeds {
		if checkRoleRequest(t, []byte(raw)) {
			decoded++
		}
	}
	if decoded < 8 {
		t.Errorf("%d of the seeds decoded; the test means to hold most of them", decoded)
	}
}

func FuzzRoleRequestIsEachDecode(f *testing.F) {
	for _, raw := range roleRequestSeeds {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkRoleRequest(t, raw) })
}

// checkRoleRequest holds RoleRequest of raw to the structs the detectors
// decoded the parameters into before it (unusual-session-name,
// workload-credentials twice, assume-role-unexpected-source,
// privileged-role-assumption-spike), and reports whether it decoded.
func checkRoleRequest(t *testing.T, raw []byte) bool {
	t.Helper()
	r := &cloudtrail.Record{RequestParameters: json.RawMessage(raw)}
	ev := &detectors.Event{Record: r}
	q, ok := ev.RoleRequest()
	if q2, ok2 := ev.RoleRequest(); q2 != q || ok2 != ok {
		t.Fatalf("%s: asked again, RoleRequest = %+v %v, first %+v %v", raw, q2, ok2, q, ok)
	}
	if !ok {
		return false
	}
	var names struct {
		RoleARN         string `json:"roleArn"`
		RoleSessionName string `json:"roleSessionName"`
		SourceIdentity  string `json:"sourceIdentity"`
	}
	var service struct {
		RoleArn         string `json:"roleArn"`
		RoleSessionName string `json:"roleSessionName"`
	}
	var signIn struct {
		RoleARN   string `json:"roleArn"`
		RoleName  string `json:"roleName"`
		AccountID string `json:"accountId"`
	}
	var arn struct {
		RoleARN string `json:"roleArn"`
	}
	for _, c := range []struct {
		name string
		v    any
		same func() bool
	}{
		{"session names", &names, func() bool {
			return names.RoleARN == q.RoleARN && names.RoleSessionName == q.RoleSessionName && names.SourceIdentity == q.SourceIdentity
		}},
		{"service assumption", &service, func() bool { return service.RoleArn == q.RoleARN && service.RoleSessionName == q.RoleSessionName }},
		{"sign-in role", &signIn, func() bool {
			return signIn.RoleARN == q.RoleARN && signIn.RoleName == q.RoleName && signIn.AccountID == q.AccountID
		}},
		{"role ARN", &arn, func() bool { return arn.RoleARN == q.RoleARN }},
	} {
		if err := r.Params(c.v); err != nil {
			t.Errorf("%s: RoleRequest decoded (%+v), but the %s struct's decode failed: %v", raw, q, c.name, err)
		} else if !c.same() {
			t.Errorf("%s: RoleRequest %+v, the %s struct decodes %+v", raw, q, c.name, c.v)
		}
	}
	return true
}
