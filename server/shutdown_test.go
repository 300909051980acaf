package server_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// gateStore holds every round trip at the gate while it is shut, so a
// test can have requests in flight at a moment of its choosing.
type gateStore struct {
	state.Store
	shut    atomic.Bool
	entered chan struct{} // a round trip reached the shut gate
	open    chan struct{} // closed: the gate opens
	once    sync.Once
}

func (g *gateStore) Exec(ctx context.Context, b *state.Batch) error {
	if g.shut.Load() {
		g.once.Do(func() { close(g.entered) })
		<-g.open
	}
	return g.Store.Exec(ctx, b)
}

// payloads counts the messages the server has read on Score streams.
type payloads struct{ n atomic.Int64 }

type scoreCall struct{}

func (p *payloads) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if strings.HasSuffix(info.FullMethodName, "/Score") {
		return context.WithValue(ctx, scoreCall{}, true)
	}
	return ctx
}

func (p *payloads) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.InPayload); ok && !s.IsClient() && ctx.Value(scoreCall{}) != nil {
		p.n.Add(1)
	}
}
func (p *payloads) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (p *payloads) HandleConn(context.Context, stats.ConnStats)                       {}

// TestShutdownEndsScoreStreamsGracefully: a Score stream with requests in
// flight when shutdown starts gets the verdict of every request the server
// had read, then ends with UNAVAILABLE "shutting down" (which clients
// retry on another replica) as soon as they are answered, instead of
// being held open until the grace period cuts it.
func TestShutdownEndsScoreStreamsGracefully(t *testing.T) {
	store := &gateStore{Store: memory.New(), entered: make(chan struct{}), open: make(chan struct{})}
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	read := &payloads{}
	srv := server.New(engine.New(reg, store, engine.Options{}), server.Options{
		GracePeriod: time.Minute, ReadyInterval: 20 * time.Millisecond, StatsHandler: read,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	addr, stopServe := serveListening(t, srv)
	defer stopServe()
	c := conn(t, addr, nil)
	health := healthpb.NewHealthClient(c)
	waitFor(t, "SERVING", func() bool {
		r, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: server.ServiceName})
		return err == nil && r.Status == healthpb.HealthCheckResponse_SERVING
	})

	// A generous bound, not a measurement: today's stream stays open until
	// the one-minute grace period, so it would end on this deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := iamsentryv1.NewDetectionServiceClient(c).Score(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store.shut.Store(true)
	const inFlight = 3
	for i := range inFlight {
		rec := listUsers("sd-"+string(rune('a'+i)), "2024-08-01T12:00:00Z")
		if err := stream.Send(&iamsentryv1.ScoreRequest{Sequence: uint64(i + 1), Events: []*iamsentryv1.Event{jsonEvent(rec)}}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			<-store.entered // the first request is being scored
		}
	}
	waitFor(t, "the server reads every request", func() bool { return read.n.Load() == inFlight })

	stopped := make(chan struct{})
	go func() { stopServe(); close(stopped) }() // shutdown starts with requests in flight
	waitFor(t, "NOT_SERVING", func() bool {
		r, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: server.ServiceName})
		return err != nil || r.Status != healthpb.HealthCheckResponse_SERVING
	})
	close(store.open)

	for i := range inFlight {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("rule: every in-flight request is answered at shutdown; response %d: %v", i+1, err)
		}
		if resp.GetSequence() != uint64(i+1) || len(resp.GetVerdicts()) != 1 {
			t.Fatalf("response %d: %v", i+1, resp)
		}
	}
	_, err = stream.Recv()
	if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "shutting down") {
		t.Errorf("rule: then the stream is told to leave (UNAVAILABLE, shutting down); got %v", err)
	}
	<-stopped
	if strings.Contains(logs.String(), "grace period over") {
		t.Errorf("rule: a stream told to leave is never cut by the grace period:\n%s", logs.String())
	}
}

// serveListening serves srv on a loopback port with the options it was
// built with. stop shuts it down and reports an error Serve returned; it
// may be called more than once.
func serveListening(t *testing.T, srv *server.Server) (addr string, stop func()) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, lis); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}
