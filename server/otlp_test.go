package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	collectorlogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/server/findings"
)

// otelValue converts decoded JSON into an OpenTelemetry log value the way
// Fluent Bit ships a parsed record: objects as maps, in order of the source
// not guaranteed, integers as ints.
func otelValue(v any) attribute.Value {
	switch x := v.(type) {
	case map[string]any:
		var kvs []attribute.KeyValue
		for k, e := range x {
			kvs = append(kvs, attribute.KeyValue{Key: attribute.Key(k), Value: otelValue(e)})
		}
		return attribute.MapValue(kvs...)
	case []any:
		var vs []attribute.Value
		for _, e := range x {
			vs = append(vs, otelValue(e))
		}
		return attribute.SliceValue(vs...)
	case string:
		return attribute.StringValue(x)
	case bool:
		return attribute.BoolValue(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return attribute.Int64Value(i)
		}
		f, _ := x.Float64()
		return attribute.Float64Value(f)
	}
	return attribute.Value{} // null
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// exportErrors collects what the OpenTelemetry SDK reports through its
// global error handler, where a SimpleProcessor's export errors go.
type exportErrors struct {
	mu   sync.Mutex
	errs []error
}

func (e *exportErrors) Handle(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err)
}

func (e *exportErrors) all() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}

func captureOtelErrors(t *testing.T) *exportErrors {
	h := &exportErrors{}
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(h)
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	return h
}

// newOTelLogger returns a logger whose records the OpenTelemetry Go SDK's
// OTLP/gRPC exporter sends to f's server, gzip-compressed as shippers do,
// one export per record.
func newOTelLogger(t *testing.T, f *fixture, opts ...otlploggrpc.Option) otellog.Logger {
	t.Helper()
	exp, err := otlploggrpc.New(context.Background(), append([]otlploggrpc.Option{
		otlploggrpc.WithGRPCConn(f.conn), otlploggrpc.WithCompressor("gzip")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	t.Cleanup(func() { lp.Shutdown(context.Background()) })
	return lp.Logger("cloudtrail")
}

// TestOTLPExporterBodies ships records with the OpenTelemetry Go SDK's
// exporter: the CloudTrail JSON as a string body, and as a map body (Fluent
// Bit's default). Both are scored; their findings reach watchers; a body
// that is no record is reported as a partial success.
func TestOTLPExporterBodies(t *testing.T) {
	sink := newCaptureSink()
	f := start(t, server.Options{Sinks: []findings.Sink{sink}})
	errs := captureOtelErrors(t)
	ctx := context.Background()
	watch := openWatch(t, ctx, f.client, &iamsentryv1.WatchRequest{})
	logger := newOTelLogger(t, f)

	var asString, asMap otellog.Record
	asString.SetBody(attribute.StringValue(string(attachRecord(t, "otlp-string"))))
	asMap.SetBody(otelValue(decodeJSON(t, attachRecord(t, "otlp-map"))))
	logger.Emit(ctx, asString)
	logger.Emit(ctx, asMap)
	for _, want := range []string{"otlp-string", "otlp-map"} {
		resp, err := watch.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if fd := resp.GetFinding(); fd.GetEventId() != want || fd.GetDetectorId() != "admin-policy-attached" ||
			fd.GetPrincipalArn() != "arn:aws:sts::123456789012:assumed-role/tester" {
			t.Errorf("watch got %v, want admin-policy-attached for %s", fd, want)
		}
	}
	if e := errs.all(); len(e) != 0 {
		t.Errorf("exporter reported %v for records that were all scored", e)
	}

	var bad otellog.Record
	bad.SetBody(attribute.Int64Value(42))
	logger.Emit(ctx, bad)
	e := errs.all()
	if len(e) != 1 || !strings.Contains(e[0].Error(), "1 of 1 records rejected") || !strings.Contains(e[0].Error(), "is an int") {
		t.Errorf("exporter reported %v; want one partial success naming the int body", e)
	}
	if it := sink.next(t); it.Finding.GetEventId() != "otlp-string" {
		t.Errorf("sink got %v first", it)
	}
	if it := sink.next(t); it.Finding.GetEventId() != "otlp-map" {
		t.Errorf("sink got %v second", it)
	}
	if it := sink.next(t); it.Invalid == nil || it.Invalid.Ingest != "otlp" || !strings.Contains(it.Invalid.Reason, "is an int") {
		t.Errorf("sink got %v; want the invalid int body", it)
	}
}

// TestOTLPPartialSuccess checks partial_success against the protocol: the
// count of rejected log records and a message naming each reason.
func TestOTLPPartialSuccess(t *testing.T) {
	f := start(t, server.Options{})
	otlp := collectorlogspb.NewLogsServiceClient(f.conn)
	req := otlpRequest(
		stringBody(attachRecord(t, "ps-1")),
		stringBody([]byte(`{"not json`)),
		&commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: true}},
		nil,
		&commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: readFile(t, "get_caller_identity.json")}},
		stringBody([]byte(`{"eventVersion":"1.08","eventName":"ListBuckets"}`)),
	)
	resp, err := otlp.Export(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	ps := resp.GetPartialSuccess()
	if ps.GetRejectedLogRecords() != 4 {
		t.Errorf("rejected %d, want 4 (bad JSON, bool body, no body, not a full record): %q", ps.GetRejectedLogRecords(), ps.GetErrorMessage())
	}
	for _, want := range []string{"4 of 6 records rejected", "not JSON", "is a bool", "has no body", "missing eventSource"} {
		if !strings.Contains(ps.GetErrorMessage(), want) {
			t.Errorf("error_message %q lacks %q", ps.GetErrorMessage(), want)
		}
	}
	resp, err = otlp.Export(context.Background(), otlpRequest(stringBody(attachRecord(t, "ps-2"))))
	if err != nil || resp.GetPartialSuccess() != nil {
		t.Errorf("all-good export: %v, %v; want no partial_success", resp, err)
	}
}

// TestOTLPOutageRetried: while the state store is down Export fails with
// UNAVAILABLE, which the SDK exporter retries; once the store is back the
// retry is scored.
func TestOTLPOutageRetried(t *testing.T) {
	sink := newCaptureSink()
	f := startWith(t, server.Options{Sinks: []findings.Sink{sink}}, true)
	_, err := collectorlogspb.NewLogsServiceClient(f.conn).Export(context.Background(), otlpRequest(stringBody(attachRecord(t, "outage-0"))))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Export during an outage: %v, want Unavailable", err)
	}
	errs := captureOtelErrors(t)
	logger := newOTelLogger(t, f, otlploggrpc.WithRetry(otlploggrpc.RetryConfig{
		Enabled: true, InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond, MaxElapsedTime: time.Minute}))
	emitted := make(chan struct{})
	go func() {
		var r otellog.Record
		r.SetBody(attribute.StringValue(string(attachRecord(t, "outage-1"))))
		logger.Emit(context.Background(), r)
		close(emitted)
	}()
	waitFor(t, "the exporter to retry", func() bool { return f.store.failedExecs.Load() >= 3 })
	f.store.down.Store(false)
	select {
	case <-emitted:
	case <-time.After(30 * time.Second):
		t.Fatal("the exporter did not finish after the store came back")
	}
	if it := sink.next(t); it.Finding.GetEventId() != "outage-1" {
		t.Errorf("sink got %v; want the finding of the retried record", it)
	}
	for _, e := range errs.all() {
		if !errors.Is(e, context.Canceled) {
			t.Errorf("the exporter reported %v; the retry should have succeeded", e)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
