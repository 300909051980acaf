package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	collectorlogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	vectorpb "github.com/iamsentry/iamsentry/gen/vector"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/server/findings"
)

// shadowedAttach is an admin attach with a key appended that a
// case-insensitive, last-wins reader takes for a harmless GetUser.
func shadowedAttach(t *testing.T, id string) []byte {
	t.Helper()
	rec := bytes.TrimSpace(attachRecord(t, id))
	return append(rec[:len(rec)-1:len(rec)-1], `,"EventName":"GetUser"}`...)
}

// kvlist renders a JSON object as an OTLP key/value list, keys in order.
func kvlist(t *testing.T, record []byte) *commonpb.AnyValue {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(record))
	dec.UseNumber()
	var kvs []*commonpb.KeyValue
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		key, _ := dec.Token()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		kvs = append(kvs, &commonpb.KeyValue{Key: key.(string), Value: anyValue(v)})
	}
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs}}}
}

func anyValue(v any) *commonpb.AnyValue {
	switch x := v.(type) {
	case string:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: x}}
	case bool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: x}}
	case json.Number:
		i, _ := x.Int64()
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: i}}
	case map[string]any:
		var kvs []*commonpb.KeyValue
		for k, e := range x {
			kvs = append(kvs, &commonpb.KeyValue{Key: k, Value: anyValue(e)})
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: kvs}}}
	case []any:
		var vs []*commonpb.AnyValue
		for _, e := range x {
			vs = append(vs, anyValue(e))
		}
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vs}}}
	}
	return &commonpb.AnyValue{}
}

// TestAmbiguousKeyEveryPath sends an admin attach shadowed by an
// "EventName" key through every ingest path: each must reject it as
// ambiguous_key naming the key, never score it CLEAN as a GetUser.
func TestAmbiguousKeyEveryPath(t *testing.T) {
	sink := newCaptureSink()
	f := start(t, server.Options{Sinks: []findings.Sink{sink}})
	ctx := context.Background()
	wantVerdict := func(path string, v *iamsentryv1.Verdict) {
		t.Helper()
		if v.GetOutcome() != iamsentryv1.Outcome_OUTCOME_INVALID || v.GetReasonCode() != "ambiguous_key" ||
			v.GetReasonField() != "eventName" || !strings.Contains(v.GetReason(), `"EventName"`) {
			t.Errorf("%s: %v %s/%s %q; want INVALID ambiguous_key naming \"EventName\"", path, v.GetOutcome(), v.GetReasonCode(), v.GetReasonField(), v.GetReason())
		}
	}

	var obj structpb.Struct
	if err := protojson.Unmarshal(shadowedAttach(t, "amb-object"), &obj); err != nil {
		t.Fatal(err)
	}
	batch, err := f.client.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{
		jsonEvent(shadowedAttach(t, "amb-batch")),
		{Record: &iamsentryv1.Event_Object{Object: &obj}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantVerdict("ScoreBatch json", batch.GetVerdicts()[0])
	wantVerdict("ScoreBatch object", batch.GetVerdicts()[1])

	stream, err := f.client.Score(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&iamsentryv1.ScoreRequest{Sequence: 1, Events: []*iamsentryv1.Event{jsonEvent(shadowedAttach(t, "amb-stream"))}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	wantVerdict("Score", resp.GetVerdicts()[0])
	_ = stream.CloseSend()

	otlp := collectorlogspb.NewLogsServiceClient(f.conn)
	exp, err := otlp.Export(ctx, otlpRequest(stringBody(shadowedAttach(t, "amb-otlp-string")), kvlist(t, shadowedAttach(t, "amb-otlp-kvlist"))))
	if err != nil {
		t.Fatal(err)
	}
	if ps := exp.GetPartialSuccess(); ps.GetRejectedLogRecords() != 2 || !strings.Contains(ps.GetErrorMessage(), `"EventName"`) {
		t.Errorf("OTLP string and kvlist bodies: rejected %d %q; want 2 naming \"EventName\"", ps.GetRejectedLogRecords(), ps.GetErrorMessage())
	}

	vec := vectorpb.NewVectorClient(f.conn)
	fields := vectorFields(t, attachRecord(t, "amb-vector"))
	fields["EventName"] = &vectorpb.Value{Kind: &vectorpb.Value_RawBytes{RawBytes: []byte("GetUser")}}
	if _, err := vec.PushEvents(ctx, &vectorpb.PushEventsRequest{Events: []*vectorpb.EventWrapper{vectorLog(&vectorpb.Log{Fields: fields})}}); err != nil {
		t.Fatal(err)
	}
	for range 3 { // OTLP string, OTLP kvlist, Vector: all to the sinks as invalid, none as a finding
		if it := sink.next(t); it.Invalid == nil || !strings.Contains(it.Invalid.Reason, `"EventName"`) {
			t.Errorf("sink got %+v; want an invalid record naming \"EventName\"", it)
		}
	}
}
