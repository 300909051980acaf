package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"

	"github.com/iamsentry/iamsentry/cloudtrail"
	collectorlogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
)

// otlpService implements opentelemetry.proto.collector.logs.v1.LogsService,
// so OTLP/gRPC log exporters (the OpenTelemetry Collector, Fluent Bit's
// opentelemetry output, SDKs) can ship CloudTrail records to iamsentry.
//
// Each log record's body is one CloudTrail record: a string or bytes holding
// its JSON, or a key/value list mirroring it (Fluent Bit's default), which is
// turned back into JSON. Records that cannot be scored are reported in
// partial_success; the call fails only when nothing could be scored as a
// whole: UNAVAILABLE while the state store is down, which exporters retry.
type otlpService struct {
	collectorlogspb.UnimplementedLogsServiceServer
	ingest *ingester
}

// Export implements LogsService.
func (s *otlpService) Export(ctx context.Context, req *collectorlogspb.ExportLogsServiceRequest) (*collectorlogspb.ExportLogsServiceResponse, error) {
	var cands []candidate
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			for _, lr := range sl.GetLogRecords() {
				b, err := otlpRecord(lr.GetBody())
				if broken := brokenRecord(lr); broken != nil {
					b, err = nil, broken
				}
				cands = append(cands, candidate{json: b, err: err})
			}
		}
	}
	resp := &collectorlogspb.ExportLogsServiceResponse{}
	if len(cands) == 0 {
		return resp, nil
	}
	rej, err := s.ingest.score(ctx, "otlp", cands)
	if err != nil {
		return nil, err
	}
	if rej.count > 0 {
		resp.PartialSuccess = &collectorlogspb.ExportLogsPartialSuccess{
			RejectedLogRecords: int64(rej.count),
			ErrorMessage:       "iamsentry: " + rej.String(),
		}
	}
	return resp, nil
}

// otlpRecord returns the CloudTrail JSON a log record's body carries.
func otlpRecord(body *commonpb.AnyValue) ([]byte, error) {
	switch v := body.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return []byte(v.StringValue), nil
	case *commonpb.AnyValue_BytesValue:
		return v.BytesValue, nil
	case *commonpb.AnyValue_KvlistValue:
		kvs := v.KvlistValue.GetValues()
		if !slices.ContainsFunc(kvs, func(kv *commonpb.KeyValue) bool { return slices.Contains(recordKeys, kv.GetKey()) }) {
			for _, w := range wrapperKeys {
				if rec, found, err := wrapped(kvs, w); found {
					return rec, err
				}
			}
		}
		return appendAnyValue(nil, body)
	case nil:
		return nil, fmt.Errorf("log record has no body; want the CloudTrail record in it")
	default:
		return nil, kindError("log record body", otlpKind(body))
	}
}

// wrapped returns the record held as a string under the wrapper key w of a
// kvlist body. A key repeated with string values is ambiguous: readers
// disagree on which one is the record (the first here, the last for jq), so
// the record is rejected rather than read one way.
func wrapped(kvs []*commonpb.KeyValue, w string) (rec []byte, found bool, err error) {
	for _, kv := range kvs {
		s, ok := kv.GetValue().GetValue().(*commonpb.AnyValue_StringValue)
		if kv.GetKey() != w || !ok {
			continue
		}
		if found {
			return nil, true, &cloudtrail.RecordError{Reason: cloudtrail.ReasonAmbiguousKey, Field: w,
				Detail: fmt.Sprintf("log record body holds the key %q twice: readers disagree on which is the record", w)}
		}
		rec, found = []byte(s.StringValue), true
	}
	return rec, found, nil
}

func otlpKind(v *commonpb.AnyValue) string {
	switch v.GetValue().(type) {
	case *commonpb.AnyValue_BoolValue:
		return "a bool"
	case *commonpb.AnyValue_IntValue:
		return "an int"
	case *commonpb.AnyValue_DoubleValue:
		return "a double"
	case *commonpb.AnyValue_ArrayValue:
		return "an array"
	}
	return "empty"
}

// appendAnyValue appends v as JSON: a kvlist is an object with its keys in
// order, an array an array, int64 exact, bytes base64 (as in OTLP's own
// JSON encoding), an unset value null.
func appendAnyValue(b []byte, v *commonpb.AnyValue) ([]byte, error) {
	var err error
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return appendJSONString(b, x.StringValue), nil
	case *commonpb.AnyValue_BoolValue:
		return strconv.AppendBool(b, x.BoolValue), nil
	case *commonpb.AnyValue_IntValue:
		return strconv.AppendInt(b, x.IntValue, 10), nil
	case *commonpb.AnyValue_DoubleValue:
		return appendJSONFloat(b, x.DoubleValue)
	case *commonpb.AnyValue_BytesValue:
		return appendJSONString(b, base64.StdEncoding.EncodeToString(x.BytesValue)), nil
	case *commonpb.AnyValue_ArrayValue:
		b = append(b, '[')
		for i, item := range x.ArrayValue.GetValues() {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendAnyValue(b, item); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case *commonpb.AnyValue_KvlistValue:
		b = append(b, '{')
		for i, kv := range x.KvlistValue.GetValues() {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendJSONString(b, kv.GetKey()), ':')
			if b, err = appendAnyValue(b, kv.GetValue()); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	default:
		return append(b, "null"...), nil
	}
}
