package server_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	collectorlogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	vectorpb "github.com/iamsentry/iamsentry/gen/vector"
	"github.com/iamsentry/iamsentry/server"
)

// rawCodec sends []byte as the message, so a test can send what a Go
// client refuses to marshal (a string that is not UTF-8).
type rawCodec struct{ encoding.CodecV2 }

func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.([]byte); ok {
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return c.CodecV2.Marshal(v)
}

var raw = grpc.ForceCodecV2(rawCodec{encoding.GetCodecV2("proto")})

const badMark = "BAD-UTF8"

// withBadUTF8 marshals m and replaces badMark, which it must hold, with
// bytes that are not UTF-8, keeping the length and so the framing.
func withBadUTF8(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil || !bytes.Contains(b, []byte(badMark)) {
		t.Fatalf("marshal: %v", err)
	}
	return bytes.ReplaceAll(b, []byte(badMark), []byte("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"))
}

// deepStruct nests objects past the proto codec's recursion limit.
func deepStruct() *structpb.Struct {
	s := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for range 6000 {
		s = &structpb.Struct{Fields: map[string]*structpb.Value{"x": structpb.NewStructValue(s)}}
	}
	return s
}

func deepKvlist() *commonpb.AnyValue {
	v := &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "x"}}
	for range 4000 {
		v = &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{
			Values: []*commonpb.KeyValue{{Key: "x", Value: v}}}}}
	}
	return v
}

// TestBadRecordFailsOnlyItself sends, on every path, a request holding a
// record with a string that is not UTF-8, a record nested past the
// recursion limit, and a good attach: the bad records are answered INVALID
// or counted rejected, the attach is scored, and the call succeeds.
func TestBadRecordFailsOnlyItself(t *testing.T) {
	f := start(t, server.Options{})
	ctx := context.Background()
	badJSON := &iamsentryv1.Event{Record: &iamsentryv1.Event_Object{Object: &structpb.Struct{Fields: map[string]*structpb.Value{
		"eventName": structpb.NewStringValue(badMark)}}}}
	deep := &iamsentryv1.Event{Record: &iamsentryv1.Event_Object{Object: deepStruct()}}
	wantVerdicts := func(path string, vs []*iamsentryv1.Verdict) {
		t.Helper()
		if len(vs) != 3 || vs[0].GetOutcome() != iamsentryv1.Outcome_OUTCOME_INVALID || vs[1].GetOutcome() != iamsentryv1.Outcome_OUTCOME_INVALID ||
			vs[2].GetOutcome() != iamsentryv1.Outcome_OUTCOME_ALERT || !strings.Contains(vs[0].GetReason(), "UTF-8") {
			t.Errorf("%s: verdicts %v; want INVALID (UTF-8), INVALID (depth), ALERT", path, vs)
		}
	}

	batch := withBadUTF8(t, &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{badJSON, deep, jsonEvent(attachRecord(t, "bad-batch"))}})
	var batchResp iamsentryv1.ScoreBatchResponse
	if err := f.conn.Invoke(ctx, iamsentryv1.DetectionService_ScoreBatch_FullMethodName, batch, &batchResp, raw); err != nil {
		t.Fatalf("ScoreBatch with bad records: %v; want per-record verdicts", err)
	}
	wantVerdicts("ScoreBatch", batchResp.GetVerdicts())

	stream, err := f.conn.NewStream(ctx, &iamsentryv1.DetectionService_ServiceDesc.Streams[0], iamsentryv1.DetectionService_Score_FullMethodName, raw)
	if err != nil {
		t.Fatal(err)
	}
	for seq, id := range []string{"bad-stream-1", "bad-stream-2"} {
		req := withBadUTF8(t, &iamsentryv1.ScoreRequest{Sequence: uint64(seq + 1), Events: []*iamsentryv1.Event{badJSON, deep, jsonEvent(attachRecord(t, id))}})
		if err := stream.SendMsg(req); err != nil {
			t.Fatal(err)
		}
		var resp iamsentryv1.ScoreResponse
		if err := stream.RecvMsg(&resp); err != nil {
			t.Fatalf("Score request %d with bad records: %v; the stream must go on", seq+1, err)
		}
		wantVerdicts("Score", resp.GetVerdicts())
	}
	_ = stream.CloseSend()

	export := withBadUTF8(t, otlpRequest(stringBody([]byte(badMark)), deepKvlist(), stringBody(attachRecord(t, "bad-otlp"))))
	var exp collectorlogspb.ExportLogsServiceResponse
	if err := f.conn.Invoke(ctx, "/opentelemetry.proto.collector.logs.v1.LogsService/Export", export, &exp, raw); err != nil {
		t.Fatalf("OTLP Export with bad records: %v; want partial_success", err)
	}
	if ps := exp.GetPartialSuccess(); ps.GetRejectedLogRecords() != 2 || !strings.Contains(ps.GetErrorMessage(), "UTF-8") {
		t.Errorf("OTLP: rejected %d %q; want 2, naming UTF-8", ps.GetRejectedLogRecords(), ps.GetErrorMessage())
	}

	push := withBadUTF8(t, &vectorpb.PushEventsRequest{Events: []*vectorpb.EventWrapper{
		vectorLog(&vectorpb.Log{Fields: map[string]*vectorpb.Value{badMark: {Kind: &vectorpb.Value_RawBytes{RawBytes: []byte("x")}}}}),
		vectorMessage(attachRecord(t, "bad-vector")),
	}})
	var pushResp vectorpb.PushEventsResponse
	if err := f.conn.Invoke(ctx, vectorpb.Vector_PushEvents_FullMethodName, push, &pushResp, raw); err != nil {
		t.Fatalf("Vector PushEvents with a bad record: %v; want the batch to succeed", err)
	}

}
