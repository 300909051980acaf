package iamsentry_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/stats"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// record returns a valid CloudTrail record with event id id.
func record(id string, i int) []byte {
	return fmt.Appendf(nil, `{"eventVersion":"1.08","eventID":%q,"eventTime":"2024-08-01T%02d:%02d:%02dZ","eventName":"ListUsers","eventSource":"iam.amazonaws.com","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE0000001"}}`,
		id, (i/3600)%24, (i/60)%60, i%60)
}

func records(prefix string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = record(fmt.Sprintf("%s-%d", prefix, i), i)
	}
	return out
}

// testStore is the embedded store with an outage switch, a gate that holds
// every batch until opened, and a log of the times failed batches came in.
type testStore struct {
	state.Store
	down   atomic.Bool
	gate   chan struct{} // nil: open
	mu     sync.Mutex
	failed []time.Time
}

func newTestStore() *testStore { return &testStore{Store: memory.New()} }

func (s *testStore) Exec(ctx context.Context, b *state.Batch) error {
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.down.Load() {
		s.mu.Lock()
		s.failed = append(s.failed, time.Now())
		s.mu.Unlock()
		b.FailAll(state.ErrUnavailable)
		return state.ErrUnavailable
	}
	return s.Store.Exec(ctx, b)
}

func (s *testStore) failures() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.failed...)
}

func (s *testStore) Ping(context.Context) error { return nil }

// testServer is a real iamsentry server on a loopback TCP port.
type testServer struct {
	addr  string
	eng   *engine.Engine
	store *testStore
	stop  func()
}

func startServer(t *testing.T, opts server.Options) *testServer {
	t.Helper()
	return startServerOn(t, "127.0.0.1:0", newTestStore(), opts)
}

func startServerOn(t *testing.T, addr string, store *testStore, opts server.Options) *testServer {
	t.Helper()
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	var lis net.Listener
	for deadline := time.Now().Add(10 * time.Second); ; { // a restarted port may linger briefly
		if lis, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if opts.GracePeriod == 0 {
		opts.GracePeriod = 100 * time.Millisecond
	}
	eng := engine.New(reg, store, engine.Options{})
	srv := server.New(eng, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	var once sync.Once
	ts := &testServer{addr: lis.Addr().String(), eng: eng, store: store}
	ts.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(ts.stop)
	return ts
}

// inflight is a gRPC stats handler that measures, per Score call, how many
// requests were sent and not yet answered, at most.
type inflight struct {
	mu    sync.Mutex
	max   int
	now   map[*int]bool
	calls atomic.Int64
}

type rpcKey struct{}

func (h *inflight) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if info.FullMethodName != "/iamsentry.v1.DetectionService/Score" {
		return ctx
	}
	h.calls.Add(1)
	return context.WithValue(ctx, rpcKey{}, new(int))
}

func (h *inflight) HandleRPC(ctx context.Context, s stats.RPCStats) {
	n, ok := ctx.Value(rpcKey{}).(*int)
	if !ok {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch s.(type) {
	case *stats.OutPayload:
		*n++
		h.max = max(h.max, *n)
	case *stats.InPayload:
		*n--
	}
}

func (h *inflight) maxInFlight() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.max
}

func (h *inflight) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (h *inflight) HandleConn(context.Context, stats.ConnStats)                       {}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
