package cloudtrail

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sameAsStd fails unless Parse gives exactly what encoding/json
// (parseStd) gives for data: the same Record or the same RecordError.
func sameAsStd(t *testing.T, data []byte) {
	t.Helper()
	got, gotErr := Parse(data, Options{})
	want, wantErr := parseStd(data)
	if !reflect.DeepEqual(gotErr, wantErr) {
		t.Fatalf("Parse must reject as encoding/json does: %q\n got  %#v\n want %#v", data, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse must decode as encoding/json does: %q\n got  %+v\n want %+v", data, got, want)
	}
}

const minRec = `"eventName":"ListUsers","eventSource":"iam.amazonaws.com","eventTime":"2024-07-31T13:06:24Z","eventID":"e1"`

// Edge cases where a token decoder could drift from encoding/json.
var stdEdgeCases = []string{
	// duplicates: the last wins, null leaves a string or object as it was,
	// objects merge into the struct field
	`{` + minRec + `,"eventName":"Second"}`,
	`{` + minRec + `,"eventName":null}`,
	`{` + minRec + `,"eventName":""}`,
	`{` + minRec + `,"userIdentity":{"arn":"a","type":"IAMUser"},"userIdentity":{"type":"Root"}}`,
	`{` + minRec + `,"userIdentity":{"arn":"a"},"userIdentity":null}`,
	`{` + minRec + `,"requestParameters":{"a":1},"requestParameters":null}`,
	`{` + minRec + `,"readOnly":true,"readOnly":null}`,
	`{` + minRec + `,"readOnly":"TRUE","readOnly":"False"}`,
	`{` + minRec + `,"readOnly":"null"}`,
	`{` + minRec + `,"sessionCredentialFromConsole":"true"}`,
	`{` + minRec + `,"sessionCredentialFromConsole":42}`,
	`{` + minRec + `,"SessionCredentialFromConsole":true}`,
	`{` + minRec + `,"readOnly":"tr\u0075e"}`,
	`{` + minRec + `,"readOnly":{"x":1}}`,
	`{` + minRec + `,"readOnly":[true]}`,
	// key matching: exact, case-insensitive, Unicode folds, escapes
	`{"EVENTNAME":"A","eventSource":"s","eventtime":"2024-07-31T13:06:24Z","EventID":"e"}`,
	`{` + minRec + `,"EVENTNAME":"B"}`,
	`{"EVENTNAME":"B",` + minRec + `}`,
	`{` + minRec + `,"userIdentity":{"accessKeyId":"A","accessKeyID":"B","ACCESS\u212aEYID":"C"}}`,
	`{` + minRec + `,"event\u017Fource":"long-s.amazonaws.com"}`,
	`{` + minRec + `,"event\u004eame":"Escaped"}`,
	`{` + minRec + `,"\u0072\u0065\u0063\u0069\u0070\u0069\u0065\u006e\u0074\u0041\u0063\u0063\u006f\u0075\u006e\u0074\u0049\u0064":"123456789012"}`,
	`{` + minRec + `,"event\ud800Name":"LoneSurrogateKey"}`,
	`{` + minRec + `,"eventName\u0000":"NUL"}`,
	`{` + minRec + `,"userIdentity":{"sessionContext":{"sessionIssuer":{"Arn":"r","ARN":"R","principalid":"p","PrincipalID":"P"}}}}`,
	`{` + minRec + `,"userIdentity":{"sessionContext":{"attributes":{"MFAAuthenticated":"TRUE"}}}}`,
	`{` + minRec + `,"` + strings.Repeat("k", 70) + `":1,"` + strings.Repeat("\u212a", 30) + `":2}`,
	// ambiguous keys: the fast path declines them, the reference words them
	`{` + minRec + `,"EventName":"GetUser"}`,
	`{` + minRec + `,"requestParameters":{"a":1},"requestParameters":{"a":2}}`,
	`{` + minRec + `,"userIdentity":{"sessionContext":{"attributes":{"mfaAuthenticated":true,"mfaAuthenticated":false}}}}`,
	`{` + minRec + `,"userIdentity":{"sessionContext":{"sourceIdentity":"a","sourceIdentity":1}}}`,
	`{` + minRec + `,"eventName":1,"EventName":"x"}`,
	`{"detail-type":"AWS API Call via CloudTrail","detail":{` + minRec + `,"eventID":"e2"}}`,
	`{"Records":[],"Records":[]}`,
	// string values: escapes, invalid UTF-8, surrogates
	`{` + minRec + `,"userAgent":"a\"b\\c\/d\u00e9\n"}`,
	"{" + minRec + ",\"userAgent\":\"bad \xff\xfe utf8 \xe2\x82\"}",
	"{" + minRec + ",\"eventName\":\"\xc3\"}",
	`{` + minRec + `,"userAgent":"\ud800 \udc00 \ud83d\ude00 \ud800\u0041 \udc00\ud800"}`,
	"{" + minRec + ",\"\xff\":1}",
	// raw values keep their bytes
	"{" + minRec + ",\"requestParameters\": {\n \"a\" : [1, 2.5e3, \"x\"] } ,\"responseElements\":\"s\"}",
	`{` + minRec + `,"responseElements":{},"requestParameters":[]}`,
	// types: encoding/json words the mismatch
	`{` + minRec + `,"eventName":42}`,
	`{` + minRec + `,"userIdentity":"root"}`,
	`{` + minRec + `,"userIdentity":{"sessionContext":[]}}`,
	`{` + minRec + `,"userIdentity":{"sessionContext":{"sessionIssuer":{"arn":1}}}}`,
	`{"eventID":5,"event":{` + minRec + `}}`,
	// wrappers
	`{"detail-type":"AWS API Call via CloudTrail","detail":{` + minRec + `}}`,
	`{"Detail-Type":"AWS API Call via CloudTrail","DETAIL":{` + minRec + `}}`,
	`{"detail-type":"AWS API Call via CloudTrail","detail":{"eventName":1}}`,
	`{"event":{` + minRec + `},"event":{"eventName":"x"}}`,
	`{"event":{"event":{` + minRec + `}}}`,
	`{"event":{` + minRec + `,"eventID":null}}`,
	`{"Records":[{` + minRec + `}]}`,
	`{"records":[],"Records":"x"}`,
	// syntax and shape
	``, ` `, `{`, `}`, `{}`, `[]`, `null`, `"s"`, `1`, `{"a"x`,
	`{` + minRec + `} `, `{` + minRec + `} x`, `{` + minRec + `}{}`, `{` + minRec + `}` + "\n\t\r",
	"\xef\xbb\xbf{" + minRec + "}",
	`{` + minRec + `,}`, `{,` + minRec + `}`, `{` + minRec + `,"a":01}`, `{` + minRec + `,"a":1.}`,
	`{` + minRec + `,"a":-}`, `{` + minRec + `,"a":tru}`, `{` + minRec + `,"a":"\x"}`, "{" + minRec + ",\"a\":\"\t\"}",
	`{` + minRec + `,"a":[1,]}`, `{` + minRec + `,"a":{"b":1,}}`, `{` + minRec + `,"a" 1}`,
	`{"eventName":"n","eventSource":"s","eventTime":"yesterday","eventID":"e"}`,
	`{"eventName":"n","eventSource":"s","eventTime":"2022-09-15 13:45:24","eventID":"e","sourceIPAddress":"fe80::1%eth0"}`,
}

func TestParseMatchesStd(t *testing.T) {
	for _, in := range stdEdgeCases {
		sameAsStd(t, []byte(in))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json*"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			sameAsStd(t, []byte(line))
		}
		sameAsStd(t, data)
	}
}

// Both decoders allow 10000 levels of nesting and reject 10001.
func TestParseDepthLimitMatchesStd(t *testing.T) {
	for _, depth := range []int{9999, 10000, 10001} {
		nest := strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1)
		sameAsStd(t, []byte(`{`+minRec+`,"x":`+nest+`}`))
		sameAsStd(t, []byte(`{`+minRec+`,"userIdentity":{"x":`+nest[1:len(nest)-1]+`}}`))
	}
}

// The fast path must take real records itself; declining them would be
// correct but as slow as before.
func TestFastPathTakesRealRecords(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json*"))
	for _, name := range files {
		data, _ := os.ReadFile(name)
		records := []string{string(data)}
		if strings.HasSuffix(name, ".jsonl") {
			records = strings.Split(strings.TrimSpace(string(data)), "\n")
		}
		for i, rec := range records {
			if err := new(decoder).parse([]byte(rec), new(Record)); err == errDeclined {
				t.Errorf("%s record %d: the fast path declined a valid record", name, i+1)
			}
		}
	}
}

// FuzzDecoderMatchesStd checks that the fast path is invisible: for any
// input, Parse returns what the reference returns, record or rejection,
// field for field and word for word. The reference is encoding/json after
// checkKeys: encoding/json matches keys case-insensitively, and it reads
// exactly the keys CloudTrail writes when checkKeys finds no duplicate or
// variant of them, so the property holds for exact matching too.
func FuzzDecoderMatchesStd(f *testing.F) {
	for _, in := range stdEdgeCases {
		f.Add([]byte(in))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json*"))
	for _, name := range files {
		data, _ := os.ReadFile(name)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsStd(t, data)
	})
}

// fieldOf, the fast path's table of folded keys, must agree with
// fieldKeys, which checkKeys and rawRecord's tags use.
func TestFieldTablesAgree(t *testing.T) {
	var buf [maxFolded + 4]byte
	for k := objKind(0); k < numKinds; k++ {
		for f := kindFields[k][0]; f < kindFields[k][1]; f++ {
			if got := fieldOf(k, foldName(buf[:0], []byte(`"`+fieldKeys[f]+`"`))); got != f {
				t.Errorf("kind %d: key %q must be field %d, fieldOf says %d", k, fieldKeys[f], f, got)
			}
		}
	}
}

// A Record shares no memory with the input, which callers reuse.
func TestParseKeepsNoInput(t *testing.T) {
	for _, in := range []string{
		`{` + minRec + `,"userAgent":"ua","requestParameters":{"a":"b"},"responseElements":{"c":1}}`,
		`{"detail-type":"AWS API Call via CloudTrail","detail":{` + minRec + `,"requestParameters":{"a":"b"}}}`,
	} {
		data := []byte(in)
		rec, err := Parse(data, Options{})
		want, _ := parseStd([]byte(in))
		for i := range data {
			data[i] = 'x'
		}
		if err != nil || !reflect.DeepEqual(rec, want) {
			t.Errorf("the Record must not change when the input is overwritten:\n got  %+v\n want %+v", rec, want)
		}
	}
}
