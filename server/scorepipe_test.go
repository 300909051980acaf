package server

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"testing"

	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/grpc"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// chanStream is a Score stream fed and read through channels.
type chanStream struct {
	grpc.ServerStream
	ctx context.Context
	in  chan *iamsentryv1.ScoreRequest
	out chan *iamsentryv1.ScoreResponse
}

func (c *chanStream) Context() context.Context { return c.ctx }

func (c *chanStream) Recv() (*iamsentryv1.ScoreRequest, error) {
	r, ok := <-c.in
	if !ok {
		return nil, io.EOF
	}
	return r, nil
}

func (c *chanStream) Send(r *iamsentryv1.ScoreResponse) error {
	c.out <- r
	return nil
}

// TestScoreStreamKeepsOrderWhilePipelined: a stream's first request is
// held in the state store; meanwhile it sends the same event again, a
// learning request, and two more, all of which the stream reads while the
// first is scored. The retried event is the DUPLICATE, not the first: the
// requests that follow are scored after it, never beside it; responses
// come back in request order, and the stream ends cleanly.
func TestScoreStreamKeepsOrderWhilePipelined(t *testing.T) {
	eng, store := gatedEngine(t)
	opts := Options{}
	opts.setDefaults()
	// No busy linger: nothing but follow keeps the requests that follow
	// out of a batch of their own beside the first.
	b := newBatcher(eng, 2, opts.BatchSize, 0, 0)
	defer b.stop()
	s := &service{batcher: b, opts: opts, log: slog.New(slog.DiscardHandler),
		readAhead: newByteBudget(opts.ReadAheadTotal), metrics: newServerMetrics(noop.NewMeterProvider(), false)}
	withID := recordWithID(t)
	request := func(seq uint64, learn bool, ids ...string) *iamsentryv1.ScoreRequest {
		req := &iamsentryv1.ScoreRequest{Sequence: seq, Learn: learn}
		for _, id := range ids {
			req.Events = append(req.Events, &iamsentryv1.Event{Record: &iamsentryv1.Event_Json{Json: withID(id)}})
		}
		return req
	}
	st := &chanStream{ctx: context.Background(), in: make(chan *iamsentryv1.ScoreRequest, 8), out: make(chan *iamsentryv1.ScoreResponse, 8)}
	done := make(chan error, 1)
	go func() { done <- s.Score(st) }()
	st.in <- request(1, false, "first-")
	<-store.entered // request 1 is being scored, its Exec held
	st.in <- request(2, false, "first-", "second-")
	st.in <- request(3, true, "learned-")
	st.in <- request(4, false, "third-")
	st.in <- request(5, false)
	close(st.in)
	// Wait until request 2 is handed over, or scored beside request 1
	// (the bug this test is for): synchronisation, not a timed wait.
	for b.followed.Load() == 0 && store.execs.Load() == 1 {
		runtime.Gosched()
	}
	if n := store.execs.Load(); n != 1 {
		t.Errorf("%d state round trips while request 1 is held in its first; want 1: the requests that follow wait for it", n)
	}
	close(store.open)
	// Per request, per event: whether its verdict is DUPLICATE.
	want := [][]bool{{false}, {true, false}, {false}, {false}, {}}
	for i, w := range want {
		resp := <-st.out
		if resp.GetSequence() != uint64(i+1) {
			t.Fatalf("response %d has sequence %d; want responses in request order", i+1, resp.GetSequence())
		}
		if len(resp.GetVerdicts()) != len(w) {
			t.Fatalf("request %d: %d verdicts, want %d", i+1, len(resp.GetVerdicts()), len(w))
		}
		for k, dup := range w {
			got := resp.GetVerdicts()[k].GetOutcome()
			if (got == iamsentryv1.Outcome_OUTCOME_DUPLICATE) != dup || got == iamsentryv1.Outcome_OUTCOME_INVALID {
				t.Errorf("request %d event %d: %v; want DUPLICATE %v (a request read while the one before it is scored is scored after it)", i+1, k, got, dup)
			}
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Score = %v at the end of the stream; want nil", err)
	}
}
