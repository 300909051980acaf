package server_test

import (
	"context"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	collectorlogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server"
)

// recvCounter counts the request messages the server's handlers have read
// from Score streams.
type recvCounter struct{ n atomic.Int64 }

type methodKey struct{}

func (c *recvCounter) TagRPC(ctx context.Context, i *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, methodKey{}, i.FullMethodName)
}
func (c *recvCounter) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.InPayload); ok && ctx.Value(methodKey{}) == iamsentryv1.DetectionService_Score_FullMethodName {
		c.n.Add(1)
	}
}
func (c *recvCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (c *recvCounter) HandleConn(context.Context, stats.ConnStats)                       {}

// settled polls v until it has not changed for the given quiet period and
// returns the value it settled at.
func settled(t *testing.T, v func() int64, quiet time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last, since := v(), time.Now()
	for time.Since(since) < quiet {
		if time.Now().After(deadline) {
			t.Fatalf("value still changing after 30s (now %d)", last)
		}
		time.Sleep(10 * time.Millisecond)
		if now := v(); now != last {
			last, since = now, time.Now()
		}
	}
	return last
}

// TestScoreBackpressure: a client that sends but never reads verdicts
// cannot make the server read (and hold) without bound. The server reads at
// most MaxInFlight requests ahead of what it has answered, answers block on
// HTTP/2 flow control once the client's receive window is full, and the
// client's sends then block on the server's window. Once the client reads,
// every request is answered.
func TestScoreBackpressure(t *testing.T) {
	counter := &recvCounter{}
	f := start(t, server.Options{MaxInFlight: 4, BatchSize: 8, StatsHandler: counter})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := f.client.Score(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// 500 malformed records of 200 bytes: 100 KB a request, and about 40 KB
	// of INVALID verdicts a response, so flow-control windows (at most
	// 16 MiB each way, with gRPC's BDP estimation) hold few of either.
	events := make([]*iamsentryv1.Event, 500)
	for i := range events {
		events[i] = jsonEvent([]byte(strings.Repeat("x", 200)))
	}
	const attempts = 1000
	baseline := runtime.NumGoroutine()
	var sent atomic.Int64
	sendDone := make(chan struct{})
	go func() {
		defer close(sendDone)
		for i := range attempts {
			if err := stream.Send(&iamsentryv1.ScoreRequest{Sequence: uint64(i), Events: events}); err != nil {
				return
			}
			sent.Add(1)
		}
		stream.CloseSend()
	}()
	read := settled(t, counter.n.Load, 500*time.Millisecond)
	stalledSends := settled(t, sent.Load, 100*time.Millisecond)
	// Responses the client's window can hold (16 MiB / 40 KB ≈ 400) plus
	// the read-ahead and the group being answered.
	const bound = 600
	if read > bound || read == 0 {
		t.Errorf("server read %d requests from a client that reads nothing; want 1..%d", read, bound)
	}
	if stalledSends >= attempts {
		t.Errorf("client sent all %d requests without blocking: no backpressure reached it", attempts)
	}
	if g := runtime.NumGoroutine(); g > baseline+20 {
		t.Errorf("goroutines grew from %d to %d while the client did not read", baseline, g)
	}
	t.Logf("stalled: server read %d, client sent %d of %d", read, stalledSends, attempts)

	// The stall was backpressure, not a failure: reading drains everything.
	for i := range attempts {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		if resp.GetSequence() != uint64(i) || len(resp.GetVerdicts()) != len(events) {
			t.Fatalf("response %d: sequence %d with %d verdicts", i, resp.GetSequence(), len(resp.GetVerdicts()))
		}
	}
	<-sendDone
}

// TestReceiveLimits: the iamsentry.v1 API keeps --max-recv-msg-size per
// message, while OTLP (and Vector) batches may be as large as
// --ingest-max-recv-msg-size and hold more records than
// --max-events-per-request. Gzip-compressed requests are accepted.
func TestReceiveLimits(t *testing.T) {
	f := start(t, server.Options{MaxRecvMsgSize: 64 << 10, IngestMaxRecvMsgSize: 2 << 20, MaxEventsPerRequest: 100})
	ctx := context.Background()
	gci := readFile(t, "get_caller_identity.json")

	var big []*iamsentryv1.Event
	for range 100 {
		big = append(big, jsonEvent(gci)) // ~100 KB: over 64 KiB
	}
	_, err := f.client.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Events: big})
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "larger than max") {
		t.Errorf("ScoreBatch of ~100 KB over a 64 KiB API limit: %v; want ResourceExhausted", err)
	}
	stream, err := f.client.Score(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(&iamsentryv1.ScoreRequest{Events: big})
	if _, err := stream.Recv(); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("Score request over the API limit: %v; want ResourceExhausted", err)
	}

	var bodies []*commonpb.AnyValue
	for range 1500 { // ~1.5 MB, 15 times the event limit
		bodies = append(bodies, stringBody(gci))
	}
	otlp := collectorlogspb.NewLogsServiceClient(f.conn)
	resp, err := otlp.Export(ctx, otlpRequest(bodies...), grpc.UseCompressor(gzip.Name))
	if err != nil || resp.GetPartialSuccess() != nil {
		t.Errorf("gzip OTLP batch of 1,500 records within the ingest limit: %v, %v; want accepted whole", resp, err)
	}
	_, err = otlp.Export(ctx, otlpRequest(append(bodies, bodies...)...))
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("OTLP batch of ~3 MB over a 2 MiB ingest limit: %v; want ResourceExhausted", err)
	}
	small, err := f.client.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Events: big[:1]}, grpc.UseCompressor(gzip.Name))
	if err != nil || len(small.GetVerdicts()) != 1 {
		t.Errorf("gzip ScoreBatch: %v, %v", small, err)
	}
}

// TestMaxConnectionAge: a stream that never ends (Watch) is cut after the
// connection's maximum age plus its grace, and the client reconnects.
func TestMaxConnectionAge(t *testing.T) {
	f := start(t, server.Options{MaxConnectionAge: 200 * time.Millisecond, MaxConnectionAgeGrace: 200 * time.Millisecond})
	w := openWatch(t, context.Background(), f.client, &iamsentryv1.WatchRequest{})
	errc := make(chan error, 1)
	go func() {
		_, err := w.Recv()
		errc <- err
	}()
	select {
	case err := <-errc:
		if status.Code(err) != codes.Unavailable && status.Code(err) != codes.Canceled {
			t.Errorf("Watch ended with %v; want Unavailable (connection aged out)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch still open 10s after the connection's maximum age and grace: grace is not finite")
	}
	if _, err := f.client.ListDetectors(context.Background(), &iamsentryv1.ListDetectorsRequest{}); err != nil {
		t.Errorf("call after the connection aged out: %v; the client must reconnect", err)
	}
}
