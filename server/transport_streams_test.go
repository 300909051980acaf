package server_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/server/auth"
	"github.com/iamsentry/iamsentry/state/memory"
)

// TestStreamCaps: the process runs at most MaxOpenStreams health and
// reflection calls (which come without credentials) and MaxStreams calls
// in all, over any number of connections; a call over a cap is refused
// RESOURCE_EXHAUSTED, and the slot is free again once a call ends.
func TestStreamCaps(t *testing.T) {
	tokens := loadTokens(t, map[string]string{"s3cret": "acme"})
	addr := serveTCP(t, memory.New(), server.Options{MaxStreams: 6, MaxOpenStreams: 3,
		Auth: &auth.Authenticator{Tokens: tokens, OpenHealth: true}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// watch opens a Health.Watch on a connection of its own and waits for
	// its first answer (or refusal).
	watch := func(ctx context.Context) (context.CancelFunc, error) {
		ctx, stop := context.WithCancel(ctx)
		w, err := healthpb.NewHealthClient(conn(t, addr, nil)).Watch(ctx, &healthpb.HealthCheckRequest{})
		if err == nil {
			_, err = w.Recv()
		}
		return stop, err
	}
	var stops []context.CancelFunc
	for range 3 {
		stop, err := watch(ctx)
		if err != nil {
			t.Fatalf("Health.Watch under the cap: %v", err)
		}
		stops = append(stops, stop)
	}
	if _, err := watch(ctx); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("4th Health.Watch over MaxOpenStreams 3: %v, want ResourceExhausted", err)
	}
	// Authenticated calls count against MaxStreams only: 3 more fit.
	c := conn(t, addr, nil)
	actx := bearer(ctx, "s3cret")
	var ends []context.CancelFunc
	for range 3 {
		sctx, end := context.WithCancel(actx)
		// The server takes a connection's streams in order: these are
		// counted before the call below.
		if _, err := iamsentryv1.NewDetectionServiceClient(c).Score(sctx); err != nil {
			t.Fatalf("Score stream under MaxStreams: %v", err)
		}
		ends = append(ends, end)
	}
	if got := scoreOne(actx, c); got != codes.ResourceExhausted {
		t.Fatalf("7th call over MaxStreams 6: %v, want ResourceExhausted", got)
	}
	for _, stop := range append(stops, ends...) {
		stop()
	}
	waitFor(t, "calls to be counted out", func() bool { return scoreOne(actx, c) == codes.OK })
	if stop, err := watch(ctx); err != nil {
		t.Errorf("Health.Watch once the others ended: %v", err)
	} else {
		stop()
	}
}
