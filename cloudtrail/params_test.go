package cloudtrail

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// The shapes detectors decode parameters and responses into, and shapes
// decodeFlat must leave to encoding/json.
type (
	flatSession struct {
		RoleARN         string `json:"roleArn"`
		RoleSessionName string `json:"roleSessionName,omitempty"`
		SourceIdentity  string `json:"sourceIdentity"`
	}
	flatResponse struct {
		Credentials struct {
			AccessKeyID string `json:"accessKeyId"`
		} `json:"credentials"`
		AssumedRoleUser struct {
			ARN string `json:"arn"`
		} `json:"assumedRoleUser"`
		SourceIdentity string `json:"sourceIdentity"`
	}
	flatUntagged struct{ Subject, NameQualifier, Issuer string }
	flatFolds    struct {
		Lower string `json:"name"`
		Upper string `json:"NAME"`
		Other string `json:"-"`
		Dash  string `json:"-,"`
		skip  string //nolint:unused // unexported: encoding/json ignores it
	}
	flatNamed  struct{ Kind flatKind }
	flatKind   string
	notFlatInt struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	notFlatList struct {
		Names []string `json:"names"`
	}
	notFlatQuoted struct {
		N string `json:"n,string"`
	}
	notFlatText struct{ T textish }
	textish     struct{ s string }
)

func (t *textish) UnmarshalText(b []byte) error { t.s = string(b); return nil }

// decodeTargets returns fresh, pre-filled values of each shape, so that
// what a decoder leaves alone shows.
func decodeTargets() []any {
	s := &flatSession{RoleARN: "old", SourceIdentity: "old"}
	r := &flatResponse{SourceIdentity: "old"}
	r.AssumedRoleUser.ARN = "old"
	return []any{s, r, &flatUntagged{Issuer: "old"}, &flatFolds{Lower: "old", Other: "old"}, &flatNamed{Kind: "old"},
		&notFlatInt{Name: "old"}, &notFlatList{}, &notFlatQuoted{}, &notFlatText{}, new(string), new(map[string]any)}
}

// checkDecodeRaw checks that decodeRaw leaves every target as
// json.Unmarshal does, with the same error.
func checkDecodeRaw(t *testing.T, raw []byte) {
	t.Helper()
	wants, gots := decodeTargets(), decodeTargets()
	for i := range wants {
		errWant := json.Unmarshal(raw, wants[i])
		errGot := decodeRaw(raw, gots[i])
		if len(raw) == 0 {
			errWant = nil // decodeRaw's contract: absent decodes nothing
			wants[i] = decodeTargets()[i]
		}
		if fmt.Sprint(errGot) != fmt.Sprint(errWant) {
			t.Fatalf("%s into %T: error %v, encoding/json says %v", raw, gots[i], errGot, errWant)
		}
		if !reflect.DeepEqual(gots[i], wants[i]) {
			t.Fatalf("%s into %T: decoded %+v, encoding/json decodes %+v", raw, gots[i], gots[i], wants[i])
		}
	}
}

var decodeRawSeeds = []string{
	``, `null`, ` null `, `{}`, `[]`, `"x"`, `1`, `{`, `{"roleArn":"a"} x`,
	`{"roleArn":"arn:aws:iam::1:role/R","roleSessionName":"s","durationSeconds":3600,"tags":[{"key":"k"}]}`,
	`{"ROLEARN":"a","roleArn":"b"}`, `{"roleArn":"a","roleArn":null}`, `{"roleArn":"a","roleArn":1}`,
	`{"roleArn":"caf\u00e9"}`, `{"roleArn":"café"}`, `{"role\u0041rn":"x"}`, `{"roleArn":"a\"b"}`,
	`{"credentials":{"accessKeyId":"ASIA1","sessionToken":"t"},"assumedRoleUser":{"arn":"arn"}}`,
	`{"credentials":null,"assumedRoleUser":"x"}`, `{"assumedRoleUser":{"ARN":"x","arn":"y"}}`,
	`{"subject":"s","NAMEQUALIFIER":"q","issuer":null}`, `{"name":"a","NAME":"b","Name":"c","-":"d","skip":"e"}`,
	`{"kind":"k"}`, `{"name":"n","count":3}`, `{"names":["a"]}`, `{"n":"\"5\""}`, `{"T":"t"}`,
	`{"roleArn":"a",}`, `{"roleArn" : "a" , "sourceIdentity" : "b" }`, "{\"roleArn\":\"a\tb\"}",
}

func TestDecodeRawMatchesStd(t *testing.T) {
	for _, s := range decodeRawSeeds {
		checkDecodeRaw(t, []byte(s))
	}
}

// FuzzDecodeRawMatchesStd checks that Params, Response and Additional
// decode exactly as encoding/json does, whatever the bytes.
func FuzzDecodeRawMatchesStd(f *testing.F) {
	for _, s := range decodeRawSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkDecodeRaw(t, raw) })
}

// TestDecodeFlatTakesCommonShapes checks that the shapes detectors use
// are decoded by decodeFlat, not handed on to encoding/json.
func TestDecodeFlatTakesCommonShapes(t *testing.T) {
	raw := []byte(`{"roleArn":"arn:aws:iam::1:role/R","roleSessionName":"s","durationSeconds":3600}`)
	var p flatSession
	if !decodeFlat(raw, &p) || p.RoleSessionName != "s" {
		t.Errorf("flat session shape: decodeFlat declined or decoded %+v", p)
	}
	var r flatResponse
	if !decodeFlat([]byte(`{"assumedRoleUser":{"arn":"a","assumedRoleId":"x"}}`), &r) || r.AssumedRoleUser.ARN != "a" {
		t.Errorf("nested response shape: decodeFlat declined or decoded %+v", r)
	}
	if decodeFlat([]byte(`{"count":1}`), new(notFlatInt)) {
		t.Error("decodeFlat took a struct with an int field")
	}
}

// BenchmarkDecodeRaw decodes an AssumeRole response into the shape the
// stories and detectors read, through decodeRaw and through
// encoding/json alone.
func BenchmarkDecodeRaw(b *testing.B) {
	raw := []byte(`{"credentials":{"accessKeyId":"ASIAEXAMPLE1234567890","sessionToken":"IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD","expiration":"Aug 1, 2024, 2:42:21 PM"},` +
		`"assumedRoleUser":{"assumedRoleId":"AROAEXAMPLE:alice@example.com","arn":"arn:aws:sts::111122223333:assumed-role/Dev/alice@example.com"},"sourceIdentity":"alice"}`)
	for _, d := range []struct {
		name string
		fn   func([]byte, any) error
	}{{"decodeRaw", func(r []byte, v any) error { return decodeRaw(r, v) }}, {"encoding-json", json.Unmarshal}} {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var r flatResponse
				if err := d.fn(raw, &r); err != nil || r.AssumedRoleUser.ARN == "" {
					b.Fatal(err)
				}
			}
		})
	}
}
