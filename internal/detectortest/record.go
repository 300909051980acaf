// Package detectortest is the test kit every detector runs: a builder for
// generated CloudTrail records, a harness that scores them through the real
// engine on the embedded store, and Run, which checks the rules every
// detector must keep.
package detectortest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// Rec is a generated CloudTrail record under construction. Tests label what
// they build with it as generated; real records come from testdata.
type Rec map[string]any

var seq atomic.Int64

// FreshID returns an event id no other generated record has.
func FreshID() string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", seq.Add(1))
}

// Base returns a successful call of source/name at event time at, made by
// the IAM user alice (long-term key AKIAEXAMPLEALICE01) of account
// 111122223333 from 203.0.113.10, with a fresh event id.
func Base(source, name string, at time.Time) Rec {
	return Rec{
		"eventVersion":       "1.09",
		"eventID":            FreshID(),
		"eventTime":          at.UTC().Format(time.RFC3339),
		"eventSource":        source,
		"eventName":          name,
		"eventType":          "AwsApiCall",
		"awsRegion":          "us-east-1",
		"sourceIPAddress":    "203.0.113.10",
		"userAgent":          "aws-cli/2.15.0",
		"recipientAccountId": "111122223333",
		"requestParameters":  nil,
		"responseElements":   nil,
		"userIdentity": map[string]any{
			"type":        "IAMUser",
			"principalId": "AIDAEXAMPLEALICE0001",
			"arn":         "arn:aws:iam::111122223333:user/alice",
			"accountId":   "111122223333",
			"accessKeyId": "AKIAEXAMPLEALICE01",
			"userName":    "alice",
		},
	}
}

// IAM is Base for an iam.amazonaws.com call with the given request
// parameters.
func IAM(name string, at time.Time, params map[string]any) Rec {
	return Base("iam.amazonaws.com", name, at).With("requestParameters", params)
}

// With sets the value at a dotted path ("userIdentity.arn"), creating maps
// on the way, and returns r. A nil value sets JSON null.
func (r Rec) With(path string, v any) Rec {
	m := map[string]any(r)
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
	return r
}

// Without deletes the value at a dotted path and returns r.
func (r Rec) Without(path string) Rec {
	m := map[string]any(r)
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return r
		}
		m = next
	}
	delete(m, parts[len(parts)-1])
	return r
}

// AsAssumedRole makes the caller a session of role in the record's account,
// named session.
func (r Rec) AsAssumedRole(role, session string) Rec {
	acct := "111122223333"
	return r.With("userIdentity", map[string]any{
		"type":        "AssumedRole",
		"principalId": "AROAEXAMPLEROLE00001:" + session,
		"arn":         "arn:aws:sts::" + acct + ":assumed-role/" + role + "/" + session,
		"accountId":   acct,
		"accessKeyId": "ASIAEXAMPLESESSION01",
		"sessionContext": map[string]any{
			"sessionIssuer": map[string]any{
				"type":        "Role",
				"principalId": "AROAEXAMPLEROLE00001",
				"arn":         "arn:aws:iam::" + acct + ":role/" + role,
				"accountId":   acct,
				"userName":    role,
			},
			"attributes": map[string]any{"mfaAuthenticated": "false"},
		},
	})
}

// Failed sets errorCode and errorMessage, as CloudTrail does for a denied
// or failed call.
func (r Rec) Failed(code string) Rec {
	return r.With("errorCode", code).With("errorMessage", "generated failure: "+code)
}

// JSON returns the record's JSON.
func (r Rec) JSON() []byte {
	b, err := json.Marshal(map[string]any(r))
	if err != nil {
		panic(err)
	}
	return b
}

// ID returns the record's eventID.
func (r Rec) ID() string { return r["eventID"].(string) }

var fixedTime = time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC)
