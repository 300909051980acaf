package cloudtrail

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/internal/racetest"
)

// memoPrime is a record whose keys and values a decoder remembers, so
// the records after it meet memos that nearly match.
const memoPrime = `{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:alice",` +
	`"arn":"arn:aws:sts::111122223333:assumed-role/Dev/alice","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE",` +
	`"sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/Dev",` +
	`"accountId":"111122223333","userName":"Dev"},"attributes":{"mfaAuthenticated":"false"}}},` +
	`"eventTime":"2024-08-01T13:42:21Z","eventSource":"iam.amazonaws.com","eventName":"ListRoles","awsRegion":"us-east-1",` +
	`"sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15","requestParameters":null,"eventID":"e-1","eventType":"AwsApiCall",` +
	`"recipientAccountId":"111122223333"}`

// memoVariants are records that share a prefix with memoPrime's tokens
// at the places its memos are kept: a value or key that goes on past the
// memo, stops short of it, escapes or folds the next byte, or differs
// in case; each must decode as if nothing were remembered.
func memoVariants() []string {
	swap := func(old, new string) string { return strings.Replace(memoPrime, old, new, 1) }
	return []string{
		memoPrime,
		swap(`"ListRoles"`, `"ListRolesX"`),
		swap(`"ListRoles"`, `"ListRole"`),
		swap(`"ListRoles"`, `"ListRoles\u0021"`),
		swap(`"ListRoles"`, `"ListRoles\"x"`),
		swap(`"ListRoles"`, `"ListRolesé"`),
		swap(`"ListRoles"`, `"ListRoles`+"\x01"+`"`),
		swap(`"ListRoles"`, `null`),
		swap(`"ListRoles"`, `1`),
		swap(`"us-east-1"`, `"us-east-10"`),
		swap(`"AROAEXAMPLE:alice"`, `"AROAEXAMPLE:bob"`),
		swap(`"arn:aws:sts::111122223333:assumed-role/Dev/alice"`, `"arn:aws:sts::111122223333:assumed-role/Dev/alice2"`),
		swap(`"eventName"`, `"EventName"`),
		swap(`"eventName":`, `"eventName" :`),
		swap(`"eventName":`, `"eventName":"eventName":`),
		swap(`"eventName":`, `"eventName",`),
		swap(`"eventName"`, `"eventNameX"`),
		swap(`"eventName"`, `"eventName\u0058"`),
		swap(`"eventName"`, `"event\u004eame"`),
		swap(`"eventSource"`, `"eventſource"`),
		swap(`"eventVersion"`, `"eventName"`),
		swap(`"type":"AssumedRole"`, `"TYPE":"AssumedRole"`),
		swap(`"type":"AssumedRole"`, `"type" : "AssumedRole"`),
		swap(`"eventSource":"iam.amazonaws.com",`, ``),
		swap(`"eventSource":"iam.amazonaws.com",`, `"eventSource":"iam.amazonaws.com","eventSource":"iam.amazonaws.com",`),
		swap(`{"eventVersion":"1.08",`, `{`),
		swap(`"mfaAuthenticated":"false"`, `"mfaAuthenticated":"true"`),
		swap(`"mfaAuthenticated":"false"`, `"mfaAuthenticated":"maybe"`),
		swap(`"userName":"Dev"`, `"userName":"Ops"`),
		swap(`"userName":"Dev"}`, `"userName":"Dev","userName":"Dev"}`),
		swap(`"accountId":"111122223333","accessKeyId"`, `"accountId":"111122223333","accountid":"x","accessKeyId"`),
		swap(`"false"}}},`, `"false"}}, "userIdentity":null,`),
		swap(`"false"}}},`, `"false"}} },`),
		swap(`"false"}}},`, `"false"}},"extra":1},`),
		`{"detail-type":"AWS API Call via CloudTrail","detail":` + memoPrime + `}`,
		`{"event":` + memoPrime + `}`,
		`{"eventName":"ListRoles"`,
		`{"eventName":"ListRoles`,
		`{"eventName`,
	}
}

// TestMemosAreInvisible parses every variant after every other, with one
// decoder whose memos each leaves behind, and checks each against the
// parser without memos.
func TestMemosAreInvisible(t *testing.T) {
	vs := memoVariants()
	for _, a := range vs {
		for _, b := range vs {
			sameAfter(t, []byte(a), []byte(b))
		}
	}
}

// FuzzMemosAreInvisible checks that a record decodes the same whatever
// record the decoder read before it.
func FuzzMemosAreInvisible(f *testing.F) {
	vs := memoVariants()
	for i, v := range vs {
		f.Add([]byte(vs[(i+1)%len(vs)]), []byte(v))
	}
	f.Fuzz(func(t *testing.T, prime, data []byte) {
		sameAfter(t, prime, data)
	})
}

// sameAfter fails unless data, parsed by a decoder that parsed prime
// just before, decodes (or is rejected) as the oracle has it. It reads
// it every way the decoder is driven: whole (parse, and ParseInto with a
// decoder of the free list) and from a Reader's buffer with more input
// after it (parseAt).
func sameAfter(t *testing.T, prime, data []byte) {
	t.Helper()
	prior := Record{EventID: "prior"}
	want := prior
	wantErr := oldParseInto(&want, data, Options{})

	d := new(decoder).withTables()
	d.parse(prime, new(Record))
	d.parse(prime, new(Record)) // met twice, its identity block is kept
	got := prior
	err := d.parse(data, &got)
	// A memo must not make the fast path decline what it takes without
	// one (correct still, but as slow as encoding/json), nor take what it
	// declines.
	if fresh := new(decoder).parse(data, new(Record)); (fresh == errDeclined) != (err == errDeclined) {
		t.Fatalf("after %q, the fast path must take %q as without memos: got %v, without memos %v", prime, data, err, fresh)
	}
	if err == errDeclined {
		return // encoding/json decides: no memo is involved
	}
	if !reflect.DeepEqual(err, wantErr) || !reflect.DeepEqual(got, want) {
		t.Fatalf("after %q, %q must decode as without memos:\n got  %+v, %v\n want %+v, %v", prime, data, got, err, want, wantErr)
	}

	// ParseInto's decoders come from the free list with the memos their
	// last parses left, here prime's (the list gives back the decoder
	// put last).
	for range 2 {
		ParseInto(new(Record), prime, Options{})
	}
	got = prior
	if err := ParseInto(&got, data, Options{}); !reflect.DeepEqual(err, wantErr) || !reflect.DeepEqual(got, want) {
		t.Fatalf("after %q, ParseInto of %q must decode as without memos:\n got  %+v, %v\n want %+v, %v", prime, data, got, err, want, wantErr)
	}

	d = new(decoder).withTables()
	for range 2 {
		d.parseAt(append(append([]byte{}, prime...), '\n'), 0, DefaultMaxRecordSize, new(Record), false)
	}
	got = prior
	buf := append(append([]byte{}, data...), "\n{}"...)
	// Only a record that is the whole of data (but for space after it)
	// has an oracle to compare with.
	if end, ok := d.parseAt(buf, 0, DefaultMaxRecordSize, &got, false); ok && end == len(bytes.TrimRight(data, " \t\r\n")) {
		if wantErr != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("after %q, parseAt of %q must decode as without memos:\n got  %+v, end %d\n want %+v, %v", prime, data, got, end, want, wantErr)
		}
	}
}

// TestMemosRealistic reads the realistic month (JSON lines, keys sorted)
// and the shared corpus of real CloudTrail (keys in CloudTrail's order,
// as an array read twice, so its callers' blocks are kept and met again)
// with one Reader, whose memos carry from record to record, and checks
// every record against the parser without memos.
func TestMemosRealistic(t *testing.T) {
	racetest.SkipLong(t)
	var lines bytes.Buffer
	for _, r := range realisticRecords() {
		lines.Write(r)
		lines.WriteByte('\n')
	}
	var shared [][]byte // the records that are one JSON object each
	for _, r := range sharedRecords() {
		if r = bytes.TrimSpace(r); len(r) > 0 && r[0] == '{' && json.Valid(r) {
			shared = append(shared, r)
		}
	}
	for range 2 {
		lines.WriteByte('[')
		for i, r := range shared {
			if i > 0 {
				lines.WriteByte(',')
			}
			lines.Write(r)
		}
		lines.WriteString("]\n")
	}
	rd := NewReader(&lines, Options{})
	parsed := 0
	for {
		var rec Record
		item, ok, err := rd.NextInto(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			continue
		}
		parsed++
		var want Record
		if err := oldParseInto(&want, item.Raw, Options{}); err != nil || !reflect.DeepEqual(rec, want) {
			t.Fatalf("%s: NextInto with memos must parse as the parser without them:\n got  %+v\n want %+v, %v", item.Position(), rec, want, err)
		}
	}
	if parsed < len(realisticRecords()) {
		t.Fatalf("NextInto parsed %d records; the realistic month alone has %d", parsed, len(realisticRecords()))
	}
}
