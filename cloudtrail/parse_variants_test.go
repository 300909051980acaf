package cloudtrail_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name     string
		field    string
		readOnly cloudtrail.ReadOnly
		mfa      bool
	}{
		{"readOnly bool true", `"readOnly":true`, cloudtrail.ReadOnlyTrue, false},
		{"readOnly string false", `"readOnly":"false"`, cloudtrail.ReadOnlyFalse, false},
		{"readOnly string True (Panther)", `"readOnly":"True"`, cloudtrail.ReadOnlyTrue, false},
		{"readOnly null", `"readOnly":null`, cloudtrail.ReadOnlyUnknown, false},
		{"mfa string true", `"userIdentity":{"sessionContext":{"attributes":{"mfaAuthenticated":"true"}}}`, cloudtrail.ReadOnlyUnknown, true},
		{"mfa string false", `"userIdentity":{"sessionContext":{"attributes":{"mfaAuthenticated":"false"}}}`, cloudtrail.ReadOnlyUnknown, false},
		{"userIdentity null", `"userIdentity":null`, cloudtrail.ReadOnlyUnknown, false},
		{"sessionIssuer null", `"userIdentity":{"sessionContext":{"sessionIssuer":null}}`, cloudtrail.ReadOnlyUnknown, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := cloudtrail.Parse(obj(minimal, tt.field), cloudtrail.Options{})
			if err != nil {
				t.Fatalf("tolerated shape must parse: %v", err)
			}
			if rec.ReadOnly != tt.readOnly || rec.UserIdentity.MFAAuthenticated != tt.mfa {
				t.Errorf("readOnly/mfa: got %v/%v, want %v/%v", rec.ReadOnly, rec.UserIdentity.MFAAuthenticated, tt.readOnly, tt.mfa)
			}
		})
	}
}

func TestParseSessionCredentialFromConsole(t *testing.T) {
	tests := []struct {
		name  string
		field string
		want  bool
	}{
		{"string true, as CloudTrail writes it", `"sessionCredentialFromConsole":"true"`, true},
		{"bool true", `"sessionCredentialFromConsole":true`, true},
		{"string false", `"sessionCredentialFromConsole":"false"`, false},
		{"absent", `"readOnly":true`, false},
		{"null", `"sessionCredentialFromConsole":null`, false},
		{"odd value is false, not a rejection", `"sessionCredentialFromConsole":42`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := cloudtrail.Parse(obj(minimal, tt.field), cloudtrail.Options{})
			if err != nil {
				t.Fatalf("rule: sessionCredentialFromConsole never rejects a record: %v", err)
			}
			if rec.SessionCredentialFromConsole != tt.want {
				t.Errorf("SessionCredentialFromConsole = %v, want %v", rec.SessionCredentialFromConsole, tt.want)
			}
		})
	}
}

func TestParseTimes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2024-07-31T13:06:24Z", "2024-07-31T13:06:24Z"},
		{"2020-09-14T00:44:23.123Z", "2020-09-14T00:44:23.123Z"},
		{"2024-07-31T15:06:24+02:00", "2024-07-31T13:06:24Z"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			rec, err := cloudtrail.Parse(obj(minimalWith(`"eventTime":"`+tt.in+`"`)), cloudtrail.Options{})
			if err != nil {
				t.Fatalf("RFC 3339 eventTime must parse: %v", err)
			}
			if got := rec.EventTime.Format(time.RFC3339Nano); got != tt.want || rec.EventTime.Location() != time.UTC {
				t.Errorf("EventTime must be the instant in UTC: got %s (%v), want %s", got, rec.EventTime.Location(), tt.want)
			}
		})
	}
}

func TestParseWrappers(t *testing.T) {
	inner := `{` + minimal + `,"userIdentity":{"arn":"arn:aws:iam::1:user/a"}}`
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"EventBridge", `{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","detail":` + inner + `}`, false},
		{"rule-test fixture", `{"rule_id":"x","expected_result":true,"event":` + inner + `}`, false},
		{"EventBridge with other detail-type is not unwrapped", `{"detail-type":"EC2 State Change","detail":` + inner + `}`, true},
		{"event that is not an object is not unwrapped", `{"event":"x"}`, true},
		{"only one level", `{"event":{"event":` + inner + `}}`, true},
		{"a record with eventName is never unwrapped", `{"eventName":"Outer","eventSource":"s","eventTime":"2024-07-31T13:06:24Z","eventID":"o","event":` + inner + `}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := cloudtrail.Parse([]byte(tt.in), cloudtrail.Options{})
			if (err != nil) != tt.wantErr {
				t.Fatalf("wrapper rule broken: err=%v, want error %v", err, tt.wantErr)
			}
			if err == nil && rec.EventName == "ListUsers" && rec.UserIdentity.ARN != "arn:aws:iam::1:user/a" {
				t.Errorf("unwrapped record must carry the inner fields: %+v", rec)
			}
		})
	}
	// Line 2 carries Panther's zone-less "2006-01-02 15:04:05" eventTime,
	// read as UTC like other SQL exports.
	for i, line := range bytes.Split(bytes.TrimSpace(readTestdata(t, "panther_wrapped.jsonl")), []byte("\n")) {
		if _, err := cloudtrail.Parse(line, cloudtrail.Options{}); err != nil {
			t.Errorf("panther_wrapped.jsonl line %d: %v, want parsed", i+1, err)
		}
	}
}

func TestParseEventTimeShapes(t *testing.T) {
	want := time.Date(2022, 9, 15, 13, 45, 24, 0, time.UTC)
	for _, in := range []string{
		"2022-09-15T13:45:24Z",
		"2022-09-15T13:45:24.000Z",
		"2022-09-15T15:45:24+02:00",
		"2022-09-15 13:45:24",
		"2022-09-15 13:45:24.000",
		"2022-09-15 13:45:24.000000000",
	} {
		rec, err := cloudtrail.Parse([]byte(`{"eventID":"e","eventName":"n","eventSource":"s","eventTime":"`+in+`"}`), cloudtrail.Options{})
		if err != nil {
			t.Errorf("eventTime %q: %v", in, err)
			continue
		}
		if !rec.EventTime.Equal(want) || rec.EventTime.Location() != time.UTC {
			t.Errorf("eventTime %q parsed as %v, want %v in UTC", in, rec.EventTime, want)
		}
	}
}
