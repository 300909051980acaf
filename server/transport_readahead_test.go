package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/proto"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/state/memory"
)

// heldRequests watches a server's Score streams from its stats handler and
// keeps the peak of what the server holds: the decoded bytes of requests
// handed to the handler (InPayload) whose answers it has not yet handed
// to the transport (OutPayload). Answers go back one per request, in
// order. It is the quantity the read-ahead budget bounds, observed by gRPC
// rather than by the server's own accounting, and, unlike the heap, it
// does not move with GC timing, pooled transport buffers or the HTTP/2
// receive window (which grpc-go's BDP estimator grows with scheduling, up
// to 16 MiB, whatever the read-ahead does).
type heldRequests struct {
	mu     sync.Mutex
	held   []int // sizes of requests read and not answered, oldest first
	bytes  int
	peak   int
	peakN  int
	reads  int
	answer int
}

func (h *heldRequests) TagRPC(ctx context.Context, i *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, methodKey{}, i.FullMethodName)
}

func (h *heldRequests) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if ctx.Value(methodKey{}) != iamsentryv1.DetectionService_Score_FullMethodName {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch p := s.(type) {
	case *stats.InPayload:
		h.reads++
		h.held = append(h.held, p.Length)
		h.bytes += p.Length
		if h.bytes > h.peak {
			h.peak, h.peakN = h.bytes, len(h.held)
		}
	case *stats.OutPayload:
		h.answer++
		if len(h.held) > 0 {
			h.bytes -= h.held[0]
			h.held = h.held[1:]
		}
	}
}

func (h *heldRequests) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (h *heldRequests) HandleConn(context.Context, stats.ConnStats)                       {}

// peakHeld is the most requests held unanswered so far.
func (h *heldRequests) peakHeld() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peakN
}

func (h *heldRequests) readCount() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return int64(h.reads)
}

// TestReadAheadBoundedByBytes: a client that grants the server no window
// for answers and sends many large requests makes the server hold only
// ReadAheadBytes of requests it has not answered (plus the one request
// waiting for that budget), not MaxInFlight (64) requests.
func TestReadAheadBoundedByBytes(t *testing.T) {
	const (
		budget   = 4 << 20
		requests = 60
		events   = 2000 // ~1 MiB a request; ~160 KB of INVALID verdicts an answer
	)
	watch := &heldRequests{}
	addr := serveTCP(t, memory.New(), server.Options{ReadAheadBytes: budget, StatsHandler: watch})
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		// The smallest windows, fixed: answers stop after 64 KiB unread.
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	evs := make([]*iamsentryv1.Event, events)
	for i := range evs {
		b := make([]byte, 250)
		rand.Read(b)
		evs[i] = jsonEvent([]byte(hex.EncodeToString(b))) // malformed: INVALID
	}
	size := proto.Size(&iamsentryv1.ScoreRequest{Sequence: requests - 1, Events: evs}) // the largest
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := iamsentryv1.NewDetectionServiceClient(c).Score(ctx, grpc.UseCompressor(gzip.Name))
	if err != nil {
		t.Fatal(err)
	}
	sent := make(chan int, 1)
	go func() {
		n := 0
		for i := range requests {
			if stream.Send(&iamsentryv1.ScoreRequest{Sequence: uint64(i), Events: evs}) != nil {
				break
			}
			n++
		}
		sent <- n
	}()
	// Judge the run once the budget has filled (from then on the bound is
	// what stops the server reading; with answers this compressible that
	// takes some 35 requests, minutes under the race detector on a loaded
	// machine), after the server reads no more. Only a server that stops
	// reading for minutes before the budget fills is a failure here.
	last, progress := watch.readCount(), time.Now()
	for watch.peakHeld() < budget/size {
		select {
		case n := <-sent:
			t.Fatalf("client stopped after %d requests, before the server held %d of them", n, budget/size)
		case <-time.After(10 * time.Millisecond):
		}
		if n := watch.readCount(); n != last {
			last, progress = n, time.Now()
		} else if time.Since(progress) > 3*time.Minute {
			t.Fatalf("the server read nothing for 3 minutes after %d requests, before it held %d unanswered", n, budget/size)
		}
	}
	read := settled(t, watch.readCount, 500*time.Millisecond)
	watch.mu.Lock()
	peak, peakN := watch.peak, watch.peakN
	watch.mu.Unlock()
	t.Logf("server read %d requests of %d bytes; it held at most %d bytes (%d requests) unanswered", read, size, peak, peakN)
	// What the budget admits, and the one request read and waiting for it.
	if limit := budget + size; peak > limit {
		t.Errorf("a stream that reads no answers made the server hold %d bytes of %d requests unanswered; want at most %d (read-ahead budget %d bytes, and one %d-byte request waiting for it)",
			peak, peakN, limit, budget, size)
	}
	cancel()
	<-sent
}
