package server_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	vectorpb "github.com/iamsentry/iamsentry/gen/vector"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/server/findings"
)

// vectorFields mirrors a record as Vector holds a parsed event: strings as
// raw bytes, numbers, booleans, nulls, maps and arrays.
func vectorFields(t *testing.T, record []byte) map[string]*vectorpb.Value {
	t.Helper()
	var s structpb.Struct
	if err := protojson.Unmarshal(record, &s); err != nil {
		t.Fatal(err)
	}
	return vectorMap(s.GetFields())
}

func vectorMap(fields map[string]*structpb.Value) map[string]*vectorpb.Value {
	out := map[string]*vectorpb.Value{}
	for k, v := range fields {
		out[k] = vectorValue(v)
	}
	return out
}

func vectorValue(v *structpb.Value) *vectorpb.Value {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		return &vectorpb.Value{Kind: &vectorpb.Value_RawBytes{RawBytes: []byte(k.StringValue)}}
	case *structpb.Value_NumberValue:
		return &vectorpb.Value{Kind: &vectorpb.Value_Float{Float: k.NumberValue}}
	case *structpb.Value_BoolValue:
		return &vectorpb.Value{Kind: &vectorpb.Value_Boolean{Boolean: k.BoolValue}}
	case *structpb.Value_StructValue:
		return &vectorpb.Value{Kind: &vectorpb.Value_Map{Map: &vectorpb.ValueMap{Fields: vectorMap(k.StructValue.GetFields())}}}
	case *structpb.Value_ListValue:
		var items []*vectorpb.Value
		for _, e := range k.ListValue.GetValues() {
			items = append(items, vectorValue(e))
		}
		return &vectorpb.Value{Kind: &vectorpb.Value_Array{Array: &vectorpb.ValueArray{Items: items}}}
	}
	return &vectorpb.Value{Kind: &vectorpb.Value_Null{}}
}

func vectorLog(l *vectorpb.Log) *vectorpb.EventWrapper {
	return &vectorpb.EventWrapper{Event: &vectorpb.EventWrapper_Log{Log: l}}
}

// TestVectorPushEvents sends what a Vector `vector` sink sends: events whose
// fields mirror the record (the default), whose value does (log
// namespacing), and whose message holds the raw line (file source). A bad
// event does not fail the batch: it goes to the sinks as invalid.
func TestVectorPushEvents(t *testing.T) {
	sink := newCaptureSink()
	f := start(t, server.Options{Sinks: []findings.Sink{sink}})
	vec := vectorpb.NewVectorClient(f.conn)
	ctx := context.Background()
	waitHealth(t, f, server.ServiceName, healthpb.HealthCheckResponse_SERVING)
	if h, err := vec.HealthCheck(ctx, &vectorpb.HealthCheckRequest{}); err != nil || h.GetStatus() != vectorpb.ServingStatus_SERVING {
		t.Fatalf("HealthCheck: %v, %v; want SERVING", h, err)
	}
	_, err := vec.PushEvents(ctx, &vectorpb.PushEventsRequest{Events: []*vectorpb.EventWrapper{
		vectorLog(&vectorpb.Log{Fields: vectorFields(t, attachRecord(t, "vec-fields"))}),
		vectorLog(&vectorpb.Log{Value: &vectorpb.Value{Kind: &vectorpb.Value_Map{Map: &vectorpb.ValueMap{Fields: vectorFields(t, attachRecord(t, "vec-value"))}}}}),
		vectorMessage(attachRecord(t, "vec-message")),
		vectorMessage([]byte("a line that is no CloudTrail record")),
		{}, // a metric or trace event: skipped
	}})
	if err != nil {
		t.Fatalf("PushEvents with one bad record: %v; the batch must succeed", err)
	}
	for _, want := range []string{"vec-fields", "vec-value", "vec-message"} {
		if it := sink.next(t); it.Finding.GetEventId() != want || it.Finding.GetDetectorId() != "admin-policy-attached" {
			t.Errorf("sink got %v, want the finding of %s", it, want)
		}
	}
	if it := sink.next(t); it.Invalid == nil || it.Invalid.Ingest != "vector" || !strings.Contains(it.Invalid.Reason, "not JSON") {
		t.Errorf("sink got %v, want the bad line as an invalid vector record", it)
	}

	f.store.down.Store(true)
	_, err = vec.PushEvents(ctx, &vectorpb.PushEventsRequest{Events: []*vectorpb.EventWrapper{vectorMessage(attachRecord(t, "vec-down"))}})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("PushEvents during a store outage: %v; want Unavailable, which Vector retries", err)
	}
	waitHealth(t, f, server.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	if h, err := vec.HealthCheck(ctx, &vectorpb.HealthCheckRequest{}); err != nil || h.GetStatus() != vectorpb.ServingStatus_NOT_SERVING {
		t.Errorf("HealthCheck during an outage: %v, %v; want NOT_SERVING", h, err)
	}
}
