package cloudtrail_test

import (
	"errors"
	"testing"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

// attach is an admin attach as CloudTrail writes it; the cases below add
// one key that a case-insensitive, last-wins reader takes for another
// event while jq, Python and SIEMs still read the attach.
const attach = `"eventVersion":"1.08","eventName":"AttachUserPolicy","eventSource":"iam.amazonaws.com",` +
	`"eventTime":"2024-07-31T13:06:24Z","eventID":"e1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a",` +
	`"sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::1:role/r"},"attributes":{"mfaAuthenticated":"false"}}},` +
	`"requestParameters":{"userName":"a","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}`

func TestParseAmbiguousKeys(t *testing.T) {
	tests := []struct {
		name, in, field, msg string
	}{
		{"a case variant after the key", `{` + attach + `,"EventName":"GetUser"}`, "eventName",
			`record has key "EventName", a variant of eventName in case or Unicode folding: readers disagree on whether it counts; CloudTrail writes eventName exactly`},
		{"a case variant alone", `{"EVENTNAME":"A","eventSource":"s","eventTime":"2024-07-31T13:06:24Z","eventID":"e"}`, "eventName",
			`record has key "EVENTNAME", a variant of eventName in case or Unicode folding: readers disagree on whether it counts; CloudTrail writes eventName exactly`},
		{"long s folds to s", `{` + attach + `,"eventſource":"sts.amazonaws.com"}`, "eventSource",
			`record has key "eventſource", a variant of eventSource in case or Unicode folding: readers disagree on whether it counts; CloudTrail writes eventSource exactly`},
		{"an escaped Kelvin sign folds to k", `{` + minimal + `,"userIdentity":{"accessKeyId":"A","access\u212aeyId":"B"}}`,
			"userIdentity.accessKeyId",
			`record has key "accessKeyId", a variant of userIdentity.accessKeyId in case or Unicode folding: readers disagree on whether it counts; CloudTrail writes userIdentity.accessKeyId exactly`},
		{"requestParameters twice", `{` + attach + `,"requestParameters":{"userName":"a"}}`, "requestParameters",
			`record has requestParameters more than once: readers disagree on which one counts`},
		{"a duplicate null", `{` + attach + `,"eventName":null}`, "eventName",
			`record has eventName more than once: readers disagree on which one counts`},
		{"nested: issuer arn in another case", `{` + minimal + `,"userIdentity":{"sessionContext":{"sessionIssuer":{"arn":"a","ARN":"b"}}}}`,
			"userIdentity.sessionContext.sessionIssuer.arn",
			`record has key "ARN", a variant of userIdentity.sessionContext.sessionIssuer.arn in case or Unicode folding: readers disagree on whether it counts; CloudTrail writes userIdentity.sessionContext.sessionIssuer.arn exactly`},
		{"nested: accessKeyId twice", `{` + minimal + `,"userIdentity":{"accessKeyId":"A","accessKeyId":"B"}}`, "userIdentity.accessKeyId",
			`record has userIdentity.accessKeyId more than once: readers disagree on which one counts`},
		{"inside a wrapper", `{"detail-type":"AWS API Call via CloudTrail","detail":{` + attach + `,"eventNAME":"GetUser"}}`, "eventName",
			`record has key "eventNAME", a variant of eventName in case or Unicode folding: readers disagree on whether it counts; CloudTrail writes eventName exactly`},
		{"the wrapper's own keys", `{"event":{` + attach + `},"event":{` + minimal + `}}`, "event",
			`record has event more than once: readers disagree on which one counts`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := cloudtrail.Parse([]byte(tt.in), cloudtrail.Options{})
			var re *cloudtrail.RecordError
			if !errors.As(err, &re) {
				t.Fatalf("a record with an ambiguous key must be rejected with a *RecordError, got %v, %+v", err, rec)
			}
			if re.Reason != cloudtrail.ReasonAmbiguousKey || re.Field != tt.field || re.Detail != tt.msg {
				t.Errorf("rejection must be ambiguous_key naming the key:\n got  %s/%s: %s\n want %s/%s: %s",
					re.Reason, re.Field, re.Detail, cloudtrail.ReasonAmbiguousKey, tt.field, tt.msg)
			}
		})
	}
}

// Keys other than the ones Parse reads may repeat and take any case, and
// an escaped key that unquotes to the exact key is that key, as jq has it.
func TestParseUnambiguousKeys(t *testing.T) {
	for _, in := range []string{
		`{` + attach + `,"eventVersion":"1.09","EventVersion":"x","tlsDetails":{},"tlsDetails":null}`,
		`{` + attach + `,"requestParameters2":1,"additionalEventData":{"EventName":"x","eventName":"y"}}`,
		`{"event\u004eame":"AttachUserPolicy","eventSource":"iam.amazonaws.com","eventTime":"2024-07-31T13:06:24Z","eventID":"e1"}`,
	} {
		rec, err := cloudtrail.Parse([]byte(in), cloudtrail.Options{})
		if err != nil || rec.EventName != "AttachUserPolicy" {
			t.Errorf("keys Parse does not read must not make a record ambiguous: %v, %+v\n%s", err, rec, in)
		}
	}
}
