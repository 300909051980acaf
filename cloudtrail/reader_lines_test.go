package cloudtrail

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// linesRecord is a compact record with every kind of value the parser
// steps over or reads (strings, literals, a flat object, nested objects
// and arrays, a number) and a userIdentity long enough for the decoder to
// keep its block (identLead).
const linesRecord = `{"awsRegion":"eu-west-1","eventCategory":"Management","eventID":"id-%d",` +
	`"eventName":"GetObject","eventSource":"s3.amazonaws.com","eventTime":"2025-03-03T00:31:19Z",` +
	`"eventVersion":"1.09","managementEvent":true,"readOnly":true,"recipientAccountId":"444455556666",` +
	`"requestParameters":{"bucketName":"b","key":"k"},"resources":[{"ARN":"arn:aws:s3:::b","type":"AWS::S3::Bucket"}],` +
	`"responseElements":{"x":{"y":[1,2.5e3,null]}},"sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2",` +
	`"userIdentity":{"accessKeyId":"ASIAEXAMPLE","accountId":"444455556666","arn":"arn:aws:sts::444455556666:assumed-role/Dev/alice",` +
	`"principalId":"AROAEXAMPLE:alice","sessionContext":{"attributes":{"mfaAuthenticated":"true"},` +
	`"sessionIssuer":{"accountId":"444455556666","arn":"arn:aws:iam::444455556666:role/Dev","type":"Role"}},"type":"AssumedRole"}}`

// spacePoints returns the offsets in the compact JSON b where JSON allows
// space: after '{', '[', ':' and ',', and before '}' and ']', outside
// strings.
func spacePoints(b []byte) []int {
	var at []int
	inString, escaped := false, false
	for i, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[' || c == ':' || c == ',':
			at = append(at, i+1)
		case c == '}' || c == ']':
			at = append(at, i)
		}
	}
	return at
}

// TestNextIntoCountsNewlinesInRecords puts a newline, and other space, at
// each place JSON allows space in a record of JSON lines, among compact
// records that the parser steps over without counting their newlines
// (Reader.passRecord); every item must still have Next's position.
// Each spaced record comes three times in a row, so that the decoder
// keeps its userIdentity block and takes the third from it, and a
// compact record after it must not take the block's newline for its own.
func TestNextIntoCountsNewlinesInRecords(t *testing.T) {
	compact := []byte(fmt.Sprintf(linesRecord, 0))
	points := spacePoints(compact)
	if len(points) < 60 {
		t.Fatalf("found %d places for space in the record; the scan of its tokens is broken", len(points))
	}
	// The same record wrapped, as EventBridge and rule tests wrap one: the
	// parser walks the wrapper whole, then the record again.
	wrapped := []byte(`{"detail-type":"AWS API Call via CloudTrail","detail":` + string(compact) + `}`)
	parsed := 0
	for _, space := range []string{"\n", " \n\t", "\r\n  "} {
		for _, p := range points {
			parsed += checkNewlineAt(t, compact, p, space)
		}
		for _, p := range spacePoints(wrapped) {
			parsed += checkNewlineAt(t, wrapped, p, space)
		}
	}
	if parsed == 0 {
		t.Fatal("NextInto parsed none of the records itself: the counting it skips was not exercised")
	}
}

// checkNewlineAt checks JSON lines, and an envelope, of the compact
// record and of the record with space put at offset p, and returns how
// many records NextInto parsed itself from the lines.
func checkNewlineAt(t *testing.T, compact []byte, p int, space string) int {
	t.Helper()
	var in, env bytes.Buffer // JSON lines, and the records in an envelope, one a line
	env.WriteString(`{"Records":[`)
	n := 0
	line := func(b []byte) {
		n++
		b = bytes.Replace(b, []byte(`"id-0"`), []byte(fmt.Sprintf(`"id-%d"`, n)), 1)
		in.Write(b)
		in.WriteByte('\n')
		if n > 1 {
			env.WriteString(",\n")
		}
		env.Write(b)
	}
	spaced := append(append(append([]byte(nil), compact[:p]...), space...), compact[p:]...)
	line(compact)
	for range 3 {
		line(spaced)
	}
	line(compact)
	line(compact)
	env.WriteString("]}")
	sameThroughNextInto(t, env.Bytes(), Options{}, false)
	got := sameThroughNextInto(t, in.Bytes(), Options{}, false)
	if last := got.items[len(got.items)-1].Position(); last != fmt.Sprintf("line %d", 6+3*strings.Count(space, "\n")) {
		t.Fatalf("space %q at %d: the last record is at %s", space, p, last)
	}
	return got.inPlace
}
