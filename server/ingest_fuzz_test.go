package server

import (
	"encoding/json"
	"testing"

	collectorlogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"

	vectorpb "github.com/iamsentry/iamsentry/gen/vector"
)

// FuzzIngestConversion feeds arbitrary bytes to the OTLP and Vector
// decoders as the wire would and converts every log record they hold: no
// input may panic, and a structured body (an OTLP AnyValue, a Vector map)
// rendered without an error must be valid JSON, since the parser is then
// handed it as the record. String bodies pass through unchanged: the parser
// judges those.
func FuzzIngestConversion(f *testing.F) {
	seed := &collectorlogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{LogRecords: []*logspb.LogRecord{
		{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: `{"eventID":"e","eventName":"GetCallerIdentity"}`}}},
		{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{
			{Key: "eventID", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "e"}}},
			{Key: "n", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: 1.5}}},
			{Key: "a", Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: []*commonpb.AnyValue{
				{Value: &commonpb.AnyValue_IntValue{IntValue: -1 << 62}}, {Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 0xff}}},
			}}}}},
		}}}}},
	}}}}}}
	if b, err := proto.Marshal(seed); err == nil {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var otlp collectorlogspb.ExportLogsServiceRequest
		if proto.Unmarshal(data, &otlp) == nil {
			for _, rl := range otlp.GetResourceLogs() {
				for _, sl := range rl.GetScopeLogs() {
					for _, lr := range sl.GetLogRecords() {
						_, _ = otlpRecord(lr.GetBody())
						if out, err := appendAnyValue(nil, lr.GetBody()); err == nil && !json.Valid(out) {
							t.Fatalf("OTLP body rendered as invalid JSON: %q", out)
						}
					}
				}
			}
		}
		var vec vectorpb.PushEventsRequest
		if proto.Unmarshal(data, &vec) == nil {
			for _, ev := range vec.GetEvents() {
				if log := ev.GetLog(); log != nil {
					_, _ = vectorRecord(log)
					if out, err := appendVectorMap(nil, log.GetFields()); err == nil && !json.Valid(out) {
						t.Fatalf("Vector fields rendered as invalid JSON: %q", out)
					}
					if v := log.GetValue(); v != nil {
						if out, err := appendVectorValue(nil, v); err == nil && !json.Valid(out) {
							t.Fatalf("Vector value rendered as invalid JSON: %q", out)
						}
					}
				}
			}
		}
	})
}
