package server_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	collectorlogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/grpc"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	vectorpb "github.com/iamsentry/iamsentry/gen/vector"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/server/findings"
)

// captureSink records what the dispatcher sends.
type captureSink struct{ items chan findings.Item }

func newCaptureSink() *captureSink { return &captureSink{items: make(chan findings.Item, 1000)} }

func (s *captureSink) Send(it findings.Item)       { s.items <- it }
func (s *captureSink) Close(context.Context) error { return nil }

// next returns the next item, failing after a generous wait.
func (s *captureSink) next(t *testing.T) findings.Item {
	t.Helper()
	select {
	case it := <-s.items:
		return it
	case <-time.After(10 * time.Second):
		t.Fatal("no item reached the sink")
		return findings.Item{}
	}
}

// none checks that nothing more reaches the sink once a marker has: the
// dispatcher is FIFO, so items queued before the marker arrive before it.
func (s *captureSink) noneBefore(t *testing.T, marker string) {
	t.Helper()
	it := s.next(t)
	if it.Finding.GetEventId() != marker {
		t.Errorf("sink got %v before the marker %q; want nothing else", it, marker)
	}
}

// attachRecord is the AdministratorAccess attachment with its own event id:
// every delivery of a new id raises admin-policy-attached.
func attachRecord(t *testing.T, id string) []byte {
	t.Helper()
	return bytes.Replace(readFile(t, "attach_admin_user_policy.json"), []byte(`"eventID": "1"`), []byte(`"eventID": "`+id+`"`), 1)
}

func otlpRequest(bodies ...*commonpb.AnyValue) *collectorlogspb.ExportLogsServiceRequest {
	var lrs []*logspb.LogRecord
	for _, b := range bodies {
		lrs = append(lrs, &logspb.LogRecord{Body: b})
	}
	return &collectorlogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{
		ScopeLogs: []*logspb.ScopeLogs{{LogRecords: lrs}},
	}}}
}

func stringBody(b []byte) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: string(b)}}
}

func vectorMessage(b []byte) *vectorpb.EventWrapper {
	return &vectorpb.EventWrapper{Event: &vectorpb.EventWrapper_Log{Log: &vectorpb.Log{Fields: map[string]*vectorpb.Value{
		"message":     {Kind: &vectorpb.Value_RawBytes{RawBytes: b}},
		"source_type": {Kind: &vectorpb.Value_RawBytes{RawBytes: []byte("file")}},
	}}}}
}

// TestFindingsReachSinksFromEveryPath scores one alerting record through
// each ingest path: every finding reaches the sink once; a redelivery
// (DUPLICATE) and a learning request send nothing.
func TestFindingsReachSinksFromEveryPath(t *testing.T) {
	sink := newCaptureSink()
	f := start(t, server.Options{Sinks: []findings.Sink{sink}})
	ctx := context.Background()
	otlp := collectorlogspb.NewLogsServiceClient(f.conn)
	vec := vectorpb.NewVectorClient(f.conn)

	paths := map[string]func(id string) error{
		"ScoreBatch": func(id string) error {
			_, err := f.client.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{jsonEvent(attachRecord(t, id))}})
			return err
		},
		"Score": func(id string) error {
			stream, err := f.client.Score(ctx)
			if err != nil {
				return err
			}
			if err := stream.Send(&iamsentryv1.ScoreRequest{Events: []*iamsentryv1.Event{jsonEvent(attachRecord(t, id))}}); err != nil {
				return err
			}
			_, err = stream.Recv()
			stream.CloseSend()
			return err
		},
		"OTLP": func(id string) error {
			_, err := otlp.Export(ctx, otlpRequest(stringBody(attachRecord(t, id))))
			return err
		},
		"Vector": func(id string) error {
			_, err := vec.PushEvents(ctx, &vectorpb.PushEventsRequest{Events: []*vectorpb.EventWrapper{vectorMessage(attachRecord(t, id))}})
			return err
		},
	}
	for name, send := range paths {
		id := "sink-" + name
		if err := send(id); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		it := sink.next(t)
		if it.Finding.GetEventId() != id || it.Finding.GetDetectorId() != "admin-policy-attached" {
			t.Errorf("%s: sink got %v, want the admin-policy-attached finding of %s", name, it, id)
		}
		// Redelivered: DUPLICATE, already sent.
		if err := send(id); err != nil {
			t.Fatalf("%s resend: %v", name, err)
		}
	}
	if _, err := f.client.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Learn: true,
		Events: []*iamsentryv1.Event{jsonEvent(attachRecord(t, "sink-learned"))}}); err != nil {
		t.Fatal(err)
	}
	if err := paths["ScoreBatch"]("sink-marker"); err != nil {
		t.Fatal(err)
	}
	sink.noneBefore(t, "sink-marker")
}

// openWatch starts a Watch call and waits for its headers: from then on the
// watcher is subscribed.
func openWatch(t *testing.T, ctx context.Context, client iamsentryv1.DetectionServiceClient, req *iamsentryv1.WatchRequest) grpc.ServerStreamingClient[iamsentryv1.WatchResponse] {
	t.Helper()
	w, err := client.Watch(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Header(); err != nil {
		t.Fatalf("watch headers: %v", err)
	}
	return w
}

func TestWatchFilters(t *testing.T) {
	f := start(t, server.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	all := openWatch(t, ctx, f.client, &iamsentryv1.WatchRequest{})
	critical := openWatch(t, ctx, f.client, &iamsentryv1.WatchRequest{MinSeverity: iamsentryv1.Severity_SEVERITY_CRITICAL})
	other := openWatch(t, ctx, f.client, &iamsentryv1.WatchRequest{DetectorIds: []string{"caller-identity-recon"}})
	mine := openWatch(t, ctx, f.client, &iamsentryv1.WatchRequest{DetectorIds: []string{"admin-policy-attached"}, MinSeverity: iamsentryv1.Severity_SEVERITY_HIGH})

	if _, err := f.client.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{jsonEvent(attachRecord(t, "w-1"))}}); err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string]grpc.ServerStreamingClient[iamsentryv1.WatchResponse]{"unfiltered": all, "detector and severity": mine} {
		resp, err := w.Recv()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fd := resp.GetFinding(); fd.GetEventId() != "w-1" || fd.GetSeverity() != iamsentryv1.Severity_SEVERITY_HIGH || fd.GetExplanation() == "" || resp.GetDropped() != 0 {
			t.Errorf("%s watcher got %v", name, resp)
		}
	}
	// The HIGH finding must not reach the CRITICAL or the other-detector
	// watchers: end their calls and check they saw nothing.
	cancel()
	for name, w := range map[string]grpc.ServerStreamingClient[iamsentryv1.WatchResponse]{"min CRITICAL": critical, "other detector": other} {
		if resp, err := w.Recv(); err == nil {
			t.Errorf("%s watcher got %v", name, resp)
		}
	}

	w, err := f.client.Watch(context.Background(), &iamsentryv1.WatchRequest{MinSeverity: 42})
	if err == nil {
		_, err = w.Recv()
	}
	if err == nil || !strings.Contains(err.Error(), "not a severity") {
		t.Errorf("Watch with severity 42: %v, want InvalidArgument", err)
	}
}
