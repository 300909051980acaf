package cloudtrail_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

// minimal is the smallest record Parse accepts; tests vary one field.
const minimal = `"eventName":"ListUsers","eventSource":"iam.amazonaws.com","eventTime":"2024-07-31T13:06:24Z","eventID":"e1"`

func obj(fields ...string) []byte { return []byte("{" + strings.Join(fields, ",") + "}") }

// minimalWith is minimal with one of its members replaced by kv: a record
// must not hold a key twice.
func minimalWith(kv string) string {
	key, _, _ := strings.Cut(kv, ":")
	var out []string
	for _, m := range strings.Split(minimal, ",") {
		if !strings.HasPrefix(m, key+":") {
			out = append(out, m)
		}
	}
	return strings.Join(append(out, kv), ",")
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		opts   cloudtrail.Options
		reason cloudtrail.Reason
		field  string
		msg    string
	}{
		{"not JSON", []byte(`{"a"x`), cloudtrail.Options{}, cloudtrail.ReasonNotJSON, "",
			`record is not JSON: invalid character 'x' after object key at offset 5`},
		{"not JSON at start", []byte(`xyz`), cloudtrail.Options{}, cloudtrail.ReasonNotJSON, "",
			`record is not JSON: invalid character 'x' looking for beginning of value at offset 1`},
		{"empty input", nil, cloudtrail.Options{}, cloudtrail.ReasonNotJSON, "",
			`record is not JSON: unexpected end of JSON input at offset 0`},
		{"array", []byte(`[{}]`), cloudtrail.Options{}, cloudtrail.ReasonNotObject, "", `record is a JSON array, not an object`},
		{"null", []byte(` null`), cloudtrail.Options{}, cloudtrail.ReasonNotObject, "", `record is a JSON null, not an object`},
		{"string", []byte(`"x"`), cloudtrail.Options{}, cloudtrail.ReasonNotObject, "", `record is a JSON string, not an object`},
		{"missing eventName", obj(`"eventSource":"s","eventTime":"2024-07-31T13:06:24Z","eventID":"1"`),
			cloudtrail.Options{}, cloudtrail.ReasonMissingField, "eventName", `record is missing eventName`},
		{"empty eventSource", obj(`"eventName":"n","eventSource":"","eventTime":"2024-07-31T13:06:24Z","eventID":"1"`),
			cloudtrail.Options{}, cloudtrail.ReasonMissingField, "eventSource", `record is missing eventSource`},
		{"missing eventTime (@timestamp only)", obj(`"eventName":"n","eventSource":"s","@timestamp":"2020-09-14T00:44:23.000Z","eventID":"1"`),
			cloudtrail.Options{}, cloudtrail.ReasonMissingField, "eventTime", `record is missing eventTime`},
		{"null eventID", obj(`"eventName":"n","eventSource":"s","eventTime":"2024-07-31T13:06:24Z","eventID":null`),
			cloudtrail.Options{}, cloudtrail.ReasonMissingField, "eventID", `record is missing eventID`},
		{"an S3 envelope sent as one record", []byte(`{"Records":[{"eventID":"e"}]}`), cloudtrail.Options{},
			cloudtrail.ReasonMissingField, "eventName", `record is missing eventName: it is an S3 delivery envelope ({"Records":[...]}); send each of its records as an event of its own`},
		{"eventTime words", obj(minimalWith(`"eventTime":"yesterday"`)), cloudtrail.Options{},
			cloudtrail.ReasonBadEventTime, "eventTime", `eventTime "yesterday" is not RFC 3339 (e.g. 2024-08-01T13:42:21Z)`},
		{"eventTime with zone offset but no T", obj(minimalWith(`"eventTime":"2022-09-15 13:45:24+02:00"`)), cloudtrail.Options{},
			cloudtrail.ReasonBadEventTime, "eventTime", `eventTime "2022-09-15 13:45:24+02:00" is not RFC 3339 (e.g. 2024-08-01T13:42:21Z)`},
		{"eventTime date only", obj(minimalWith(`"eventTime":"2022-09-15"`)), cloudtrail.Options{},
			cloudtrail.ReasonBadEventTime, "eventTime", `eventTime "2022-09-15" is not RFC 3339 (e.g. 2024-08-01T13:42:21Z)`},
		{"too large", []byte(`{"x":"` + strings.Repeat("a", 300000-8) + `"}`), cloudtrail.Options{},
			cloudtrail.ReasonTooLarge, "", `record is 300000 bytes, over the 262144-byte limit`},
		{"too large, custom limit, checked before decoding", []byte(`{not json at all}`), cloudtrail.Options{MaxRecordSize: 10},
			cloudtrail.ReasonTooLarge, "", `record is 17 bytes, over the 10-byte limit`},
		{"eventName is a number", obj(minimalWith(`"eventName":42`)), cloudtrail.Options{},
			cloudtrail.ReasonBadFieldType, "eventName", `eventName is a JSON number, want a string`},
		{"eventTime is a bool", obj(minimalWith(`"eventTime":true`)), cloudtrail.Options{},
			cloudtrail.ReasonBadFieldType, "eventTime", `eventTime is a JSON bool, want a string`},
		{"userIdentity is a string", obj(minimal, `"userIdentity":"root"`), cloudtrail.Options{},
			cloudtrail.ReasonBadFieldType, "userIdentity", `userIdentity is a JSON string, want an object`},
		{"userIdentity.arn is an array", obj(minimal, `"userIdentity":{"arn":["a"]}`), cloudtrail.Options{},
			cloudtrail.ReasonBadFieldType, "userIdentity.arn", `userIdentity.arn is a JSON array, want a string`},
		{"readOnly is a number", obj(minimal, `"readOnly":1`), cloudtrail.Options{},
			cloudtrail.ReasonBadFieldType, "readOnly", `readOnly is a JSON number, want a bool`},
		{"readOnly is another string", obj(minimal, `"readOnly":"yes"`), cloudtrail.Options{},
			cloudtrail.ReasonBadFieldType, "readOnly", `readOnly is a JSON string, want a bool`},
		{"wrapped event missing eventID", obj(`"rule_id":"r"`, `"event":{"eventName":"n","eventSource":"s","eventTime":"2024-07-31T13:06:24Z"}`),
			cloudtrail.Options{}, cloudtrail.ReasonMissingField, "eventID", `record is missing eventID`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := cloudtrail.Parse(tt.in, tt.opts)
			if err == nil {
				t.Fatalf("Parse accepted a record that must be rejected as %s: %+v", tt.reason, rec)
			}
			var re *cloudtrail.RecordError
			if !errors.As(err, &re) {
				t.Fatalf("rejections must be *RecordError, got %T: %v", err, err)
			}
			if re.Reason != tt.reason || re.Field != tt.field {
				t.Errorf("reason/field: got %q/%q, want %q/%q (%v)", re.Reason, re.Field, tt.reason, tt.field, err)
			}
			if err.Error() != tt.msg {
				t.Errorf("message must be precise:\n got  %s\n want %s", err, tt.msg)
			}
		})
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParse(t *testing.T, data []byte) *cloudtrail.Record {
	t.Helper()
	rec, err := cloudtrail.Parse(data, cloudtrail.Options{})
	if err != nil {
		t.Fatalf("a valid real record must parse: %v", err)
	}
	return rec
}

func TestParseIAMUser(t *testing.T) {
	rec := mustParse(t, readTestdata(t, "iamuser_stratus.json"))
	want := cloudtrail.Record{
		EventID: "10163ed2-2253-469d-a5ee-cbc6651f8934", EventName: "StopLogging",
		EventSource: "cloudtrail.amazonaws.com", EventTime: time.Date(2024, 7, 31, 13, 6, 24, 0, time.UTC),
		EventType: "AwsApiCall", AWSRegion: "apiso-centralnorth-2r", ReadOnly: cloudtrail.ReadOnlyFalse,
		UserAgent: "stratus-red-team_c97089f1-1ae3-4ecc-b006-f5e8fd0f2571", RecipientAccountID: "143434273843",
		SourceIPAddress: "86.245.153.234", SourceIP: netip.MustParseAddr("86.245.153.234"),
		UserIdentity: cloudtrail.UserIdentity{
			Type: "IAMUser", PrincipalID: "AIDAOC1SYDVN0AF0FMMR", ARN: "arn:aws:iam::143434273843:user/christophe",
			AccountID: "143434273843", AccessKeyID: "AKIAGGWFBBHBE7D3M9WI", UserName: "christophe",
		},
	}
	if string(rec.RequestParameters) != `{
  "name": "stratus-red-team-ct-stop-trail-buykxbqejv"
 }` {
		t.Errorf("RequestParameters must be the raw JSON as given, got %s", rec.RequestParameters)
	}
	if rec.ResponseElements != nil {
		t.Errorf("responseElements: null must give nil, got %q", rec.ResponseElements)
	}
	rec.RequestParameters = nil
	if !reflect.DeepEqual(*rec, want) {
		t.Errorf("fields must be extracted as given:\n got  %+v\n want %+v", *rec, want)
	}
	if !rec.SourceIsIP() || rec.AccountID() != "143434273843" {
		t.Errorf("SourceIsIP/AccountID wrong: %v %q", rec.SourceIsIP(), rec.AccountID())
	}
}

func TestParseAssumedRole(t *testing.T) {
	rec := mustParse(t, readTestdata(t, "assumedrole_panther.json"))
	want := cloudtrail.UserIdentity{
		Type: "AssumedRole", PrincipalID: "1111:tester", ARN: "arn:aws:sts::123456789012:assumed-role/tester",
		AccountID: "123456789012", AccessKeyID: "1", MFAAuthenticated: true,
		SessionIssuer: cloudtrail.SessionIssuer{Type: "Role", PrincipalID: "1111",
			ARN: "arn:aws:iam::123456789012:role/OtherRole", AccountID: "123456789012", UserName: "tester"},
	}
	if rec.UserIdentity != want {
		t.Errorf("sessionContext must map to SessionIssuer and MFAAuthenticated:\n got  %+v\n want %+v", rec.UserIdentity, want)
	}
	if rec.ReadOnly != cloudtrail.ReadOnlyUnknown {
		t.Errorf("absent readOnly must be ReadOnlyUnknown, got %v", rec.ReadOnly)
	}
}

func TestParseSourceIP(t *testing.T) {
	tests := []struct {
		file, ip string
		isIP     bool
	}{
		{"awsservice_panther.json", "lambda.amazonaws.com", false},
		{"awsinternal_panther.json", "AWS Internal", false},
		{"zeropad_ip_stratus.json", "08.1.250.216", false},
		{"null_request_scenario.json", "92.55.146.245", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rec := mustParse(t, readTestdata(t, tt.file))
			if rec.SourceIPAddress != tt.ip {
				t.Errorf("SourceIPAddress must be kept as given: got %q, want %q", rec.SourceIPAddress, tt.ip)
			}
			if rec.SourceIsIP() != tt.isIP || rec.SourceIP.IsValid() != tt.isIP {
				t.Errorf("SourceIsIP for %q: got %v, want %v", tt.ip, rec.SourceIsIP(), tt.isIP)
			}
		})
	}
}

func TestParseAWSServiceAndNullRequest(t *testing.T) {
	svc := mustParse(t, readTestdata(t, "awsservice_panther.json"))
	if svc.UserIdentity.Type != "AWSService" || svc.UserIdentity.ARN != "" || svc.UserIdentity.InvokedBy != "lambda.amazonaws.com" {
		t.Errorf("AWSService caller has no arn and keeps invokedBy: %+v", svc.UserIdentity)
	}
	if svc.AccountID() != "123456789123" || svc.ReadOnly != cloudtrail.ReadOnlyTrue {
		t.Errorf("AccountID must fall back to recipientAccountId, readOnly true: %q %v", svc.AccountID(), svc.ReadOnly)
	}
	root := mustParse(t, readTestdata(t, "null_request_scenario.json"))
	if root.RequestParameters != nil || root.ResponseElements == nil {
		t.Errorf("requestParameters null must be nil, responseElements kept: %q %q", root.RequestParameters, root.ResponseElements)
	}
	var resp struct{ ConsoleLogin string }
	if err := root.Response(&resp); err != nil || resp.ConsoleLogin != "Failure" {
		t.Errorf("Response must decode responseElements: %v %+v", err, resp)
	}
}
