package server

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/iamsentry/iamsentry/cloudtrail"
	vectorpb "github.com/iamsentry/iamsentry/gen/vector"
)

func kv(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}
func str(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}
func kvlist(kvs ...*commonpb.KeyValue) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs}}}
}

// TestOTLPRecordFaithful renders every AnyValue kind and checks the exact
// JSON: key order kept, int64 exact beyond 2^53, strings escaped, bytes
// base64, unset null.
func TestOTLPRecordFaithful(t *testing.T) {
	body := kvlist(
		kv("eventVersion", str("1.08")),
		kv("eventID", str("e\"1\\\n\x01é\xff")),
		kv("readOnly", &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: false}}),
		kv("big", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: math.MaxInt64}}),
		kv("ratio", &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 0.25}}),
		kv("raw", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1, 2}}}),
		kv("responseElements", &commonpb.AnyValue{}),
		kv("resources", &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{
			kvlist(kv("ARN", str("arn:aws:iam::1:role/r"))), str("x"),
		}}}}),
		kv("message", str("not the record: the map is")),
	)
	got, err := otlpRecord(body)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"eventVersion":"1.08","eventID":"e\"1\\\n\u0001é\ufffd","readOnly":false,"big":9223372036854775807,"ratio":0.25,"raw":"AAEC","responseElements":null,"resources":[{"ARN":"arn:aws:iam::1:role/r"},"x"],"message":"not the record: the map is"}`
	if string(got) != want {
		t.Errorf("rendered\n%s\nwant\n%s", got, want)
	}
	if !json.Valid(got) {
		t.Errorf("not valid JSON: %s", got)
	}

	// {"log": "<record JSON>"}: Fluent Bit's in_tail without a parser.
	wrapped, err := otlpRecord(kvlist(kv("log", str(`{"eventID":"x"}`)), kv("stream", str("stdout"))))
	if err != nil || string(wrapped) != `{"eventID":"x"}` {
		t.Errorf("log wrapper: %s, %v", wrapped, err)
	}
	// The wrapper key twice: which is the record is a matter of reader.
	_, err = otlpRecord(kvlist(kv("log", str(`{"eventID":"x"}`)), kv("log", str(`{"eventID":"y"}`))))
	if re, ok := errors.AsType[*cloudtrail.RecordError](err); !ok || re.Reason != cloudtrail.ReasonAmbiguousKey || re.Field != "log" {
		t.Errorf("log wrapper twice: %v, want ambiguous_key on log", err)
	}
	nan := kvlist(kv("eventID", str("x")), kv("n", &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: math.NaN()}}))
	if _, err := otlpRecord(nan); err == nil {
		t.Errorf("a NaN must make the record invalid, not silently null")
	}
}

func vb(s string) *vectorpb.Value {
	return &vectorpb.Value{Kind: &vectorpb.Value_RawBytes{RawBytes: []byte(s)}}
}

func TestVectorRecordFaithful(t *testing.T) {
	fields := map[string]*vectorpb.Value{
		"eventVersion": vb("1.08"),
		"eventTime":    {Kind: &vectorpb.Value_Timestamp{Timestamp: timestamppb.New(time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC))}},
		"count":        {Kind: &vectorpb.Value_Integer{Integer: -7}},
		"ratio":        {Kind: &vectorpb.Value_Float{Float: 1.5}},
		"readOnly":     {Kind: &vectorpb.Value_Boolean{Boolean: true}},
		"nothing":      {Kind: &vectorpb.Value_Null{}},
		"userIdentity": {Kind: &vectorpb.Value_Map{Map: &vectorpb.ValueMap{Fields: map[string]*vectorpb.Value{"type": vb("IAMUser"), "arn": vb("arn:aws:iam::1:user/a")}}}},
		"list":         {Kind: &vectorpb.Value_Array{Array: &vectorpb.ValueArray{Items: []*vectorpb.Value{vb("a"), {Kind: &vectorpb.Value_Integer{Integer: 2}}}}}},
		"message":      vb("ignored: the fields are the record"),
	}
	want := `{"count":-7,"eventTime":"2024-08-01T13:00:00Z","eventVersion":"1.08","list":["a",2],"message":"ignored: the fields are the record","nothing":null,"ratio":1.5,"readOnly":true,"userIdentity":{"arn":"arn:aws:iam::1:user/a","type":"IAMUser"}}`
	for name, log := range map[string]*vectorpb.Log{
		"fields": {Fields: fields},
		"value":  {Value: &vectorpb.Value{Kind: &vectorpb.Value_Map{Map: &vectorpb.ValueMap{Fields: fields}}}},
	} {
		got, err := vectorRecord(log)
		if err != nil || string(got) != want {
			t.Errorf("%s: rendered\n%s (%v)\nwant\n%s", name, got, err, want)
		}
	}
	msg, err := vectorRecord(&vectorpb.Log{Fields: map[string]*vectorpb.Value{"message": vb(`{"eventID":"m"}`), "host": vb("h")}})
	if err != nil || string(msg) != `{"eventID":"m"}` {
		t.Errorf("message field: %s, %v", msg, err)
	}
	if _, err := vectorRecord(&vectorpb.Log{Value: &vectorpb.Value{Kind: &vectorpb.Value_Integer{Integer: 1}}}); err == nil {
		t.Errorf("an integer event must be invalid")
	}
	if _, err := vectorRecord(&vectorpb.Log{}); err == nil {
		t.Errorf("an empty event must be invalid")
	}
}
