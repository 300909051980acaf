package iamsentry_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	"github.com/iamsentry/iamsentry/clients/iamsentry"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server"
)

func dial(t *testing.T, target string, opts ...iamsentry.Option) *iamsentry.Client {
	t.Helper()
	c, err := iamsentry.Dial(target, append([]iamsentry.Option{iamsentry.WithoutTelemetry()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// collect reads a Stream's results until the channel closes.
func collect(s *iamsentry.Stream) func() []iamsentry.Result {
	var out []iamsentry.Result
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r := range s.Results() {
			out = append(out, r)
		}
	}()
	return func() []iamsentry.Result { <-done; return out }
}

func TestScoreOneVerdictPerRecordInOrder(t *testing.T) {
	srv := startServer(t, server.Options{})
	c := dial(t, srv.addr, iamsentry.WithBatch(7))
	recs := records("one", 50)
	recs = append(recs, []byte(`{"eventID":"broken"`))
	vs, err := c.Score(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(recs) {
		t.Fatalf("%d verdicts for %d records", len(vs), len(recs))
	}
	for i, v := range vs[:50] {
		if want := fmt.Sprintf("one-%d", i); v.GetEventId() != want || v.GetOutcome() == iamsentryv1.Outcome_OUTCOME_INVALID {
			t.Errorf("verdict %d is %s for %q, want a scored verdict for %q", i, v.GetOutcome(), v.GetEventId(), want)
		}
	}
	if last := vs[50]; last.GetOutcome() != iamsentryv1.Outcome_OUTCOME_INVALID || last.GetReason() == "" {
		t.Errorf("malformed record: %v, want INVALID with a reason", last)
	}
	again, err := c.Score(context.Background(), recs[:3])
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range again {
		if v.GetOutcome() != iamsentryv1.Outcome_OUTCOME_DUPLICATE {
			t.Errorf("record %d sent twice: %s, want DUPLICATE", i, v.GetOutcome())
		}
	}
}

// Several goroutines, each with its own Stream spread over three gRPC
// streams, interleave on one Client: every result must carry the tag of
// the record it answers, in Send order.
func TestStreamsMatchVerdictsToRecords(t *testing.T) {
	srv := startServer(t, server.Options{})
	c := dial(t, srv.addr, iamsentry.WithBatch(7), iamsentry.WithWindow(2), iamsentry.WithStreams(3), iamsentry.WithLinger(time.Millisecond))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			s, err := c.NewStream(context.Background())
			if err != nil {
				t.Error(err)
				return
			}
			results := collect(s)
			prefix := fmt.Sprintf("g%d", g)
			recs := records(prefix, 333)
			for i, r := range recs {
				if err := s.Send(context.Background(), r, fmt.Sprintf("%s-%d", prefix, i)); err != nil {
					t.Error(err)
					return
				}
				if i == 100 {
					if err := s.Flush(context.Background()); err != nil {
						t.Error(err)
					}
				}
			}
			if err := s.Close(context.Background()); err != nil {
				t.Error(err)
			}
			got := results()
			if len(got) != len(recs) {
				t.Errorf("%s: %d results for %d records", prefix, len(got), len(recs))
				return
			}
			for i, r := range got {
				want := fmt.Sprintf("%s-%d", prefix, i)
				if r.Err != nil || r.Tag != want || r.Verdict.GetEventId() != want {
					t.Errorf("%s: result %d has tag %v, verdict for %q, err %v; want %s", prefix, i, r.Tag, r.Verdict.GetEventId(), r.Err, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestWindowBoundsRequestsInFlight(t *testing.T) {
	store := newTestStore()
	store.gate = make(chan struct{})
	srv := startServerOn(t, "127.0.0.1:0", store, server.Options{})
	h := &inflight{}
	const batch, window = 5, 3
	c := dial(t, srv.addr, iamsentry.WithBatch(batch), iamsentry.WithWindow(window), iamsentry.WithDialOptions(grpc.WithStatsHandler(h)))
	s, err := c.NewStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	results := collect(s)
	recs := records("win", 100)
	// window batches fill the window; one more batch fits in the Stream
	// only as the partial batch, which cannot be sealed.
	for i, r := range recs[:(window+1)*batch] {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := s.Send(ctx, r, i)
		cancel()
		if err != nil {
			t.Fatalf("send %d while the window has room: %v", i, err)
		}
	}
	eventually(t, "the window to fill", func() bool { return h.maxInFlight() == window })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err = s.Send(ctx, recs[(window+1)*batch], 0)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send with the window full: %v, want it to block until the deadline", err)
	}
	close(store.gate)
	for i, r := range recs[(window+1)*batch:] {
		if err := s.Send(context.Background(), r, (window+1)*batch+i); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := results()
	if len(got) != len(recs) {
		t.Fatalf("%d results for %d records", len(got), len(recs))
	}
	for i, r := range got {
		if r.Err != nil || r.Tag != i {
			t.Fatalf("result %d: tag %v err %v", i, r.Tag, r.Err)
		}
	}
	if m := h.maxInFlight(); m != window {
		t.Errorf("at most %d requests were in flight on a stream, want exactly the window, %d", m, window)
	}
}

// A state outage answers UNAVAILABLE; the client retries with growing
// delays, and the records are scored once the store is back.
func TestBackoffOnUnavailable(t *testing.T) {
	srv := startServer(t, server.Options{})
	srv.store.down.Store(true)
	const base, ceiling = 20 * time.Millisecond, 160 * time.Millisecond
	c := dial(t, srv.addr, iamsentry.WithBackoff(base, ceiling))
	s, err := c.NewStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	results := collect(s)
	for i, r := range records("bo", 10) {
		if err := s.Send(context.Background(), r, i); err != nil {
			t.Fatal(err)
		}
	}
	const attempts = 7
	eventually(t, "attempts against the outage", func() bool { return len(srv.store.failures()) >= attempts })
	srv.store.down.Store(false)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range results() {
		if r.Err != nil || r.Verdict.GetOutcome() != iamsentryv1.Outcome_OUTCOME_CLEAN {
			t.Errorf("record %v after the outage: %v %v, want CLEAN", r.Tag, r.Verdict.GetOutcome(), r.Err)
		}
	}
	// The gaps between attempts are checked from below only: the client
	// sleeps at least the jittered delay, so a gap shorter than its floor
	// means no backoff (or a backoff that does not grow). A gap's upper
	// bound is the machine's scheduling, not the client's, and a busy
	// machine stretches it: what the client chooses is checked exactly,
	// without a clock, by TestBackoffDelay.
	times := srv.store.failures()[:attempts]
	for i := 1; i < len(times); i++ {
		gap := times[i].Sub(times[i-1])
		want := min(base<<(i-1), ceiling)
		// The server stamps an attempt when it handles it; a stamp taken
		// late by a descheduled handler shortens the next gap, by far less
		// than the 10 % spared here.
		if lo := want * 7 / 10; gap < lo {
			t.Errorf("attempt %d came %v after the one before; backoff %v -20%% wants at least %v", i+1, gap, want, lo)
		}
	}
	if st := s.Stats(); st.Reconnects < attempts-1 || st.Resent < attempts-1 {
		t.Errorf("stats %+v: want at least %d reconnects and resends", st, attempts-1)
	}
}

func TestRoundRobinSpreadsStreamsOverReplicas(t *testing.T) {
	r := manual.NewBuilderWithScheme("iamsentry-test")
	var addrs []resolver.Address
	var srvs []*testServer
	for range 3 {
		srv := startServer(t, server.Options{})
		srvs = append(srvs, srv)
		addrs = append(addrs, resolver.Address{Addr: srv.addr})
	}
	r.InitialState(resolver.State{Addresses: addrs})
	c := dial(t, "iamsentry-test:///replicas", iamsentry.WithStreams(3), iamsentry.WithBatch(10),
		iamsentry.WithDialOptions(grpc.WithResolvers(r)))
	// round_robin connects to every address at once but picks only among
	// connections that are up: the first calls may all land on the first
	// replica to answer. Once each replica has seen a call, all are up.
	calls := 0
	eventually(t, "every replica to be connected", func() bool {
		calls++
		if _, err := c.Score(context.Background(), records(fmt.Sprintf("warm%d", calls), 3)); err != nil {
			t.Fatal(err)
		}
		for _, srv := range srvs {
			if srv.eng.Stats().Records == 0 {
				return false
			}
		}
		return true
	})
	before := make([]int64, len(srvs))
	for i, srv := range srvs {
		before[i] = srv.eng.Stats().Records
	}
	vs, err := c.Score(context.Background(), records("rr", 300))
	if err != nil || len(vs) != 300 {
		t.Fatalf("%d verdicts, err %v", len(vs), err)
	}
	total := int64(0)
	for i, srv := range srvs {
		n := srv.eng.Stats().Records - before[i]
		total += n
		if n == 0 {
			t.Errorf("replica %d scored none of the records: round_robin must put the three streams on the three replicas", i)
		}
	}
	if total != 300 {
		t.Errorf("replicas scored %d records in all, want 300", total)
	}
	t.Logf("replicas connected after %d calls", calls)
}

func TestRequestOverLimitIsRefusedNotRetried(t *testing.T) {
	srv := startServer(t, server.Options{MaxEventsPerRequest: 5})
	c := dial(t, srv.addr, iamsentry.WithBatch(8), iamsentry.WithBackoff(time.Millisecond, 2*time.Millisecond))
	recs := records("lim", 24)
	vs, err := c.Score(context.Background(), recs)
	pe, ok := errors.AsType[*iamsentry.PartialError](err)
	if !ok || len(pe.Failed) != len(recs) {
		t.Fatalf("err %v: want a PartialError naming all %d records (every request breaks the limit)", err, len(recs))
	}
	if iamsentry.IsRetryable(err) || status.Code(pe.Errs[0]) != codes.InvalidArgument {
		t.Errorf("err %v: want INVALID_ARGUMENT, not retryable", pe.Errs[0])
	}
	if re, ok := errors.AsType[*iamsentry.RequestError](pe.Errs[0]); !ok || re.Records != 8 {
		t.Errorf("err %v: want a RequestError for the 8 records of the first request", pe.Errs[0])
	}
	for i, v := range vs {
		if v != nil {
			t.Errorf("record %d has a verdict %v though its request was refused", i, v)
		}
	}
	// The Stream goes on after a refused request: small requests pass.
	c2 := dial(t, srv.addr, iamsentry.WithBatch(5))
	if _, err := c2.Score(context.Background(), recs); err != nil {
		t.Errorf("requests within the limit: %v", err)
	}
}

func TestCancelFailsUnansweredRecords(t *testing.T) {
	store := newTestStore()
	store.gate = make(chan struct{}) // never opens
	srv := startServerOn(t, "127.0.0.1:0", store, server.Options{})
	c := dial(t, srv.addr, iamsentry.WithBatch(4))
	ctx, cancel := context.WithCancel(context.Background())
	s, err := c.NewStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	results := collect(s)
	for i, r := range records("cancel", 10) {
		if err := s.Send(ctx, r, i); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := s.Send(context.Background(), record("late", 0), -1); !errors.Is(err, context.Canceled) {
		t.Errorf("send after cancel: %v, want context.Canceled", err)
	}
	s.Close(context.Background())
	got := results()
	if len(got) != 10 {
		t.Fatalf("%d results for 10 accepted records", len(got))
	}
	for _, r := range got {
		if !errors.Is(r.Err, context.Canceled) || r.Verdict != nil {
			t.Errorf("record %v: verdict %v err %v, want context.Canceled", r.Tag, r.Verdict, r.Err)
		}
	}
}

// The in-process server stops (GOAWAY, then the grace period cuts the
// stream) and starts again on the same port mid-stream: nothing is lost.
func TestServerRestartMidStream(t *testing.T) {
	store := newTestStore()
	srv := startServerOn(t, "127.0.0.1:0", store, server.Options{})
	c := dial(t, srv.addr, iamsentry.WithBatch(10), iamsentry.WithWindow(4), iamsentry.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	s, err := c.NewStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	results := collect(s)
	recs := records("restart", 2000)
	for i, r := range recs {
		if i == 500 {
			srv.stop()
			startServerOn(t, srv.addr, store, server.Options{})
		}
		if err := s.Send(context.Background(), r, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := results()
	if len(got) != len(recs) {
		t.Fatalf("%d results for %d records", len(got), len(recs))
	}
	for i, r := range got {
		if r.Err != nil || r.Tag != i || r.Verdict.GetEventId() != fmt.Sprintf("restart-%d", i) {
			t.Fatalf("result %d: tag %v verdict %v err %v", i, r.Tag, r.Verdict, r.Err)
		}
	}
	if st := s.Stats(); st.Reconnects == 0 {
		t.Errorf("stats %+v: the restart must have cost a reconnect", st)
	}
}

func TestDialRefusesTokenOverPlaintext(t *testing.T) {
	_, err := iamsentry.Dial("localhost:50051", iamsentry.WithToken("s3cret"))
	if err == nil {
		t.Fatal("Dial sent a token over plaintext")
	}
	if _, err := iamsentry.Dial("localhost:50051", iamsentry.WithToken("s3cret"), iamsentry.WithTokenOverPlaintext()); err != nil {
		t.Errorf("WithTokenOverPlaintext: %v", err)
	}
	for _, bad := range [][]iamsentry.Option{{iamsentry.WithWindow(0)}, {iamsentry.WithBatch(-1)}, {iamsentry.WithBackoff(time.Second, time.Millisecond)}} {
		if _, err := iamsentry.Dial("localhost:50051", bad...); err == nil {
			t.Errorf("Dial accepted a nonsensical option")
		}
	}
}
