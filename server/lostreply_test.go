package server_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	collectorlogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/server/findings"
)

// stallRedis makes srv sleep for d (DEBUG SLEEP) and returns once it is
// asleep, with a function that waits for it to wake. A pipeline sent in
// between runs when it wakes, after its sender gave up on the reply.
func stallRedis(t *testing.T, srv *redistest.Server, d time.Duration) (wake func()) {
	t.Helper()
	ctx := context.Background()
	slept := make(chan error, 1)
	go func() { slept <- srv.Client().Do(ctx, "DEBUG", "SLEEP", d.Seconds()).Err() }()
	// Asleep once a probe goes unanswered.
	probe := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ReadTimeout: 50 * time.Millisecond, MaxRetries: -1, DisableIdentity: true})
	defer probe.Close()
	for probe.Ping(ctx).Err() == nil {
		select {
		case err := <-slept:
			t.Fatalf("DEBUG SLEEP answered before the server was seen asleep: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return func() {
		if err := <-slept; err != nil {
			t.Fatalf("DEBUG SLEEP: %v", err)
		}
	}
}

// findingsTotal reads iamsentry.findings (findings_total) for a detector.
func findingsTotal(t *testing.T, r *sdkmetric.ManualReader, detector string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "iamsentry.findings" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				if v, _ := dp.Attributes.Value(attribute.Key("detector")); v.AsString() == detector {
					n += dp.Value
				}
			}
		}
	}
	return n
}

// TestFindingPublishedOnceAfterLostReply stalls a real redis-server past
// the store's read timeout while a record that alerts is scored: the
// pipeline runs, its reply is lost, the caller is told UNAVAILABLE and
// retries, as clients and the OpenTelemetry exporter do. The finding must
// reach Watch, the sinks and findings_total exactly once, on the Score
// stream and on OTLP (whose callers see no verdicts: publishing is all
// they get).
func TestFindingPublishedOnceAfterLostReply(t *testing.T) {
	redis := redistest.StartServer(t)
	store := rstore.Open(t, redis.URL()+"?read_timeout=250ms", rstore.Prefix())
	reader := sdkmetric.NewManualReader()
	sink := newCaptureSink()
	// Readiness probes are left out: one holding the store's only idle
	// connection during the stall would make scoring dial a new one, and a
	// pipeline that never left cannot lose its reply.
	addr, _ := serveEngine(t, store, engine.Options{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))},
		server.Options{Sinks: []findings.Sink{sink}, ReadyInterval: time.Hour})
	cc := conn(t, addr, nil)
	client := iamsentryv1.NewDetectionServiceClient(cc)
	otlp := collectorlogspb.NewLogsServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	watch := openWatch(t, ctx, client, &iamsentryv1.WatchRequest{})

	paths := []struct {
		name string
		send func(id string) error
	}{
		{"Score", func(id string) error {
			stream, err := client.Score(ctx)
			if err != nil {
				return err
			}
			defer stream.CloseSend()
			if err := stream.Send(&iamsentryv1.ScoreRequest{Events: []*iamsentryv1.Event{jsonEvent(attachRecord(t, id))}}); err != nil {
				return err
			}
			resp, err := stream.Recv()
			if err == nil {
				t.Logf("Score %s: %v with %d findings", id, resp.GetVerdicts()[0].GetOutcome(), len(resp.GetVerdicts()[0].GetFindings()))
			}
			return err
		}},
		{"OTLP", func(id string) error {
			_, err := otlp.Export(ctx, otlpRequest(stringBody(attachRecord(t, id))))
			return err
		}},
	}
	for _, p := range paths {
		id, marker := "stalled-"+p.name, "marker-"+p.name
		// A clean record first leaves a connection idle in the store's
		// pool: the stalled pipeline goes out on it without a handshake.
		if code := scoreOne(ctx, cc); code != codes.OK {
			t.Fatalf("warm-up: %v", code)
		}
		wake := stallRedis(t, redis, 2*time.Second)
		if err := p.send(id); status.Code(err) != codes.Unavailable {
			t.Fatalf("%s while Redis stalls: %v, want UNAVAILABLE (the reply was lost)", p.name, err)
		}
		wake()
		// The retry, then one more redelivery, then a new record: findings
		// are handed out in scoring order, so the marker's comes last.
		for _, send := range []string{id, id, marker} {
			if err := p.send(send); err != nil {
				t.Fatalf("%s %s after Redis woke: %v", p.name, send, err)
			}
		}
		for _, want := range []string{id, marker} {
			resp, err := watch.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.GetFinding().GetEventId(); got != want {
				t.Errorf("%s: Watch got a finding of %q, want %q (each finding once, in order)", p.name, got, want)
			}
			if got := sink.next(t).Finding.GetEventId(); got != want {
				t.Errorf("%s: sink got a finding of %q, want %q (each finding once, in order)", p.name, got, want)
			}
		}
	}
	if n := findingsTotal(t, reader, "admin-policy-attached"); n != 4 {
		t.Errorf("findings_total{detector=admin-policy-attached} = %d, want 4 (two records on each path, each counted once)", n)
	}
}
