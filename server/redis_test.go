package server_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/server/findings"
)

// replica serves one server on a Redis store under prefix, with the Watch
// fan-out through the same Redis, as serve wires it.
func replica(t *testing.T, url, prefix string) iamsentryv1.DetectionServiceClient {
	t.Helper()
	store := rstore.Open(t, url, prefix)
	bus := findings.NewRedisBus(store.Client(), prefix, nil)
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(engine.New(reg, store, engine.Options{}), server.Options{FindingsBus: bus})
	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-bus.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("Watch fan-out subscription not confirmed by Redis")
	}
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return iamsentryv1.NewDetectionServiceClient(conn)
}

// TestWatchAcrossReplicas runs two replicas on one real redis-server: a
// watcher on either sees the findings of both, exactly once; a redelivery
// to the other replica (DUPLICATE through the shared dedupe) raises none.
func TestWatchAcrossReplicas(t *testing.T) {
	srv := redistest.StartServer(t)
	prefix := rstore.Prefix()
	a, b := replica(t, srv.URL(), prefix), replica(t, srv.URL(), prefix)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watchA := openWatch(t, ctx, a, &iamsentryv1.WatchRequest{})
	watchB := openWatch(t, ctx, b, &iamsentryv1.WatchRequest{})

	score := func(c iamsentryv1.DetectionServiceClient, id string) iamsentryv1.Outcome {
		t.Helper()
		resp, err := c.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{jsonEvent(attachRecord(t, id))}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetVerdicts()[0].GetOutcome()
	}
	watchers := map[string]grpc.ServerStreamingClient[iamsentryv1.WatchResponse]{"watcher on A": watchA, "watcher on B": watchB}
	expect := func(want string) {
		t.Helper()
		for name, w := range watchers {
			resp, err := w.Recv()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got := resp.GetFinding().GetEventId(); got != want {
				t.Errorf("%s got %s, want %s", name, got, want)
			}
		}
	}
	if o := score(a, "fan-1"); o != iamsentryv1.Outcome_OUTCOME_ALERT {
		t.Fatalf("first delivery on A: %v", o)
	}
	expect("fan-1")
	// B publishes in scoring order, so had the duplicate raised anything,
	// it would arrive before fan-2.
	if o := score(b, "fan-1"); o != iamsentryv1.Outcome_OUTCOME_DUPLICATE {
		t.Fatalf("redelivery on B: %v; replicas must share the dedupe", o)
	}
	if o := score(b, "fan-2"); o != iamsentryv1.Outcome_OUTCOME_ALERT {
		t.Fatalf("first delivery on B: %v", o)
	}
	expect("fan-2")
}
