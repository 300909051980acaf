package iamsentry_test

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iamsentry/iamsentry/clients/iamsentry"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// How a gRPC stream ends decides what the client resends. These tests
// script the server's side of each stream to end it in one exact way.

// A stream that breaks after answering some requests keeps those answers:
// only the unanswered request is resent, whichever of the answers and the
// status the client happens to read first.
func TestBrokenStreamKeepsAnswersItGot(t *testing.T) {
	for range 10 {
		srv := startScripted(t, func(st *scriptedStream) error {
			reqs := st.recvN(3)
			st.answer(reqs[0])
			st.answer(reqs[1])
			return status.Error(codes.Unavailable, "replica going away")
		})
		stats := sendAll(t, srv.addr, 3)
		if stats.Resent != 1 || stats.Reconnects != 1 {
			t.Fatalf("resent %d requests over %d reconnects, want the 1 unanswered over 1", stats.Resent, stats.Reconnects)
		}
		if got := srv.sequences(); !slices.Equal(got[1], []uint64{3}) {
			t.Fatalf("streams received sequences %v, want [1 2 3] then [3] only", got)
		}
	}
}

// A stream the server ends cleanly while a request is unanswered is a
// break, not the end: the request is resent after a backoff.
func TestStreamEndedWithRequestsUnansweredIsResent(t *testing.T) {
	srv := startScripted(t, func(st *scriptedStream) error {
		st.recvN(1)
		return nil
	})
	stats := sendAll(t, srv.addr, 1)
	if stats.Resent != 1 || stats.Reconnects != 1 {
		t.Fatalf("resent %d requests over %d reconnects, want 1 over 1", stats.Resent, stats.Reconnects)
	}
	if got := srv.sequences(); len(got) != 2 || !slices.Equal(got[1], []uint64{1}) {
		t.Fatalf("streams received sequences %v, want [1] then [1] again", got)
	}
}

// sendAll streams n records, one request each, and checks each got a
// verdict.
func sendAll(t *testing.T, addr string, n int) iamsentry.Stats {
	t.Helper()
	c := dial(t, addr, iamsentry.WithBatch(1), iamsentry.WithWindow(n+1), iamsentry.WithStreams(1),
		iamsentry.WithBackoff(time.Millisecond, time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := c.NewStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	results := collect(s)
	for i, r := range records("s", n) {
		if err := s.Send(ctx, r, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := results()
	for i, r := range got {
		if r.Err != nil || r.Verdict == nil || r.Tag != i {
			t.Errorf("result %d: tag %v, verdict %v, err %v; want a verdict", i, r.Tag, r.Verdict, r.Err)
		}
	}
	if len(got) != n {
		t.Fatalf("%d results for %d records", len(got), n)
	}
	return s.Stats()
}

// scripted is a DetectionService whose Score streams play its scripts in
// turn; once they are used up, a stream answers every request it gets.
type scripted struct {
	iamsentryv1.UnimplementedDetectionServiceServer
	addr    string
	mu      sync.Mutex
	scripts []func(*scriptedStream) error
	seen    [][]uint64 // the sequences each stream received
}

func startScripted(t *testing.T, scripts ...func(*scriptedStream) error) *scripted {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{addr: lis.Addr().String(), scripts: scripts}
	gs := grpc.NewServer()
	iamsentryv1.RegisterDetectionServiceServer(gs, s)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return s
}

func (s *scripted) Score(st iamsentryv1.DetectionService_ScoreServer) error {
	s.mu.Lock()
	ss := &scriptedStream{st: st, srv: s, n: len(s.seen)}
	s.seen = append(s.seen, nil)
	script := answerAll
	if len(s.scripts) > 0 {
		script, s.scripts = s.scripts[0], s.scripts[1:]
	}
	s.mu.Unlock()
	return script(ss)
}

func (s *scripted) sequences() [][]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

func answerAll(st *scriptedStream) error {
	for {
		req, err := st.recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		st.answer(req)
	}
}

// scriptedStream is the server's side of stream n.
type scriptedStream struct {
	st  iamsentryv1.DetectionService_ScoreServer
	srv *scripted
	n   int
}

func (st *scriptedStream) recv() (*iamsentryv1.ScoreRequest, error) {
	req, err := st.st.Recv()
	if err == nil {
		st.srv.mu.Lock()
		st.srv.seen[st.n] = append(st.srv.seen[st.n], req.GetSequence())
		st.srv.mu.Unlock()
	}
	return req, err
}

// recvN receives n requests; it panics if the stream ends first, which
// fails the test binary loudly rather than hanging it.
func (st *scriptedStream) recvN(n int) []*iamsentryv1.ScoreRequest {
	reqs := make([]*iamsentryv1.ScoreRequest, n)
	for i := range reqs {
		req, err := st.recv()
		if err != nil {
			panic("scripted stream: " + err.Error())
		}
		reqs[i] = req
	}
	return reqs
}

// answer sends req a CLEAN verdict per event.
func (st *scriptedStream) answer(req *iamsentryv1.ScoreRequest) {
	resp := &iamsentryv1.ScoreResponse{Sequence: req.GetSequence()}
	for range req.GetEvents() {
		resp.Verdicts = append(resp.Verdicts, &iamsentryv1.Verdict{Outcome: iamsentryv1.Outcome_OUTCOME_CLEAN})
	}
	_ = st.st.Send(resp)
}
