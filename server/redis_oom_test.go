package server_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/server"
)

// TestRedisOutOfMemory fills a noeviction Redis past maxmemory (issue 16,
// defect 3: every request then failed INTERNAL, which clients do not
// retry, while health said SERVING). A full Redis is an outage: scoring
// answers UNAVAILABLE, health turns NOT_SERVING, and both recover once
// memory is freed, with the refused event scored, not DUPLICATE.
func TestRedisOutOfMemory(t *testing.T) {
	srv := redistest.StartServer(t)
	rc := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store := rstore.Open(t, srv.URL(), rstore.Prefix())
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	s := server.New(engine.New(reg, store, engine.Options{}), server.Options{ReadyInterval: 20 * time.Millisecond})
	lis := bufconn.Listen(1 << 20)
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(sctx, lis) }()
	t.Cleanup(func() { stop(); <-done })
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &fixture{client: iamsentryv1.NewDetectionServiceClient(conn), health: healthpb.NewHealthClient(conn)}
	score := func(id string) (iamsentryv1.Outcome, error) {
		resp, err := f.client.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{jsonEvent(attachRecord(t, id))}})
		if err != nil {
			return iamsentryv1.Outcome_OUTCOME_UNSPECIFIED, err
		}
		return resp.GetVerdicts()[0].GetOutcome(), nil
	}

	waitHealth(t, f, server.ServiceName, healthpb.HealthCheckResponse_SERVING)
	if o, err := score("oom-before"); err != nil || o != iamsentryv1.Outcome_OUTCOME_ALERT {
		t.Fatalf("before the flood: %v, %v; want ALERT", o, err)
	}
	// Stand-in for a flood of identities: 4 MB of other data, then
	// maxmemory 1 MB below what Redis uses.
	if err := rc.Set(ctx, "flood", strings.Repeat("x", 4<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	used := srv.UsedMemory(ctx)
	if err := rc.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used-1<<20, 10)).Err(); err != nil {
		t.Fatal(err)
	}

	if _, err := score("oom-1"); status.Code(err) != codes.Unavailable {
		t.Errorf("ScoreBatch on a full Redis: %v; want Unavailable (clients retry it)", err)
	}
	stream, err := f.client.Score(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&iamsentryv1.ScoreRequest{Sequence: 1, Events: []*iamsentryv1.Event{jsonEvent(attachRecord(t, "oom-1"))}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("Score stream on a full Redis: %v; want Unavailable", err)
	}
	waitHealth(t, f, server.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	waitHealth(t, f, "", healthpb.HealthCheckResponse_NOT_SERVING)

	if err := rc.Del(ctx, "flood").Err(); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, f, server.ServiceName, healthpb.HealthCheckResponse_SERVING)
	if o, err := score("oom-1"); err != nil || o != iamsentryv1.Outcome_OUTCOME_ALERT {
		t.Errorf("the refused event once memory is freed: %v, %v; want ALERT (it was never scored)", o, err)
	}
	if o, err := score("oom-before"); err != nil || o != iamsentryv1.Outcome_OUTCOME_DUPLICATE {
		t.Errorf("redelivery of an event scored before the flood: %v, %v; want DUPLICATE", o, err)
	}
}
