package consistency_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/internal/consistency"
	"github.com/iamsentry/iamsentry/internal/corpus"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/server"
)

// outageServer is an in-process iamsentry server on a real TCP port, on a
// real Redis.
type outageServer struct {
	client iamsentryv1.DetectionServiceClient
	health healthpb.HealthClient
}

func startOutageServer(t *testing.T, redisURL string) *outageServer {
	t.Helper()
	eng, err := consistency.NewEngine(rstore.Open(t, redisURL, rstore.Prefix()))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- server.New(eng, server.Options{ReadyInterval: 50 * time.Millisecond}).Serve(ctx, lis)
	}()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); cancel(); <-done })
	return &outageServer{client: iamsentryv1.NewDetectionServiceClient(conn), health: healthpb.NewHealthClient(conn)}
}

func (s *outageServer) waitHealth(t *testing.T, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := s.health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: server.ServiceName})
		if err == nil && resp.GetStatus() == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health never became %v (last: %v, %v)", want, resp.GetStatus(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requests cuts records into requests of n events.
func requests(recs [][]byte, n int) [][][]byte {
	var out [][][]byte
	for i := 0; i < len(recs); i += n {
		out = append(out, recs[i:min(i+n, len(recs))])
	}
	return out
}

// streamFrom sends reqs[from:] on one Score stream with window requests in
// flight and records each response in acked. It returns the index of the
// first request without a response and the error that ended the stream
// (nil when all were answered). onAck runs after each response.
func streamFrom(ctx context.Context, c iamsentryv1.DetectionServiceClient, reqs [][][]byte, from, window int,
	acked [][]*iamsentryv1.Verdict, onAck func(done int)) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.Score(ctx)
	if err != nil {
		return from, err
	}
	slots := make(chan struct{}, window)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := from; i < len(reqs); i++ {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			req := &iamsentryv1.ScoreRequest{Sequence: uint64(i)}
			for _, r := range reqs[i] {
				req.Events = append(req.Events, &iamsentryv1.Event{Record: &iamsentryv1.Event_Json{Json: r}})
			}
			if stream.Send(req) != nil {
				return // the receive side reports why
			}
		}
		stream.CloseSend()
	})
	defer func() { cancel(); wg.Wait() }() // stop the sender before waiting for it
	next := from
	for next < len(reqs) {
		resp, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return next, err
		}
		if resp.GetSequence() != uint64(next) || len(resp.GetVerdicts()) != len(reqs[next]) {
			return next, errors.New("response out of order or with the wrong number of verdicts")
		}
		acked[next] = resp.GetVerdicts()
		next++
		<-slots
		onAck(next)
	}
	return next, nil
}

// verdictIncidents counts the incidents in acknowledged verdicts,
// duplicates included: a retry after a lost reply brings its findings back
// as a DUPLICATE.
func verdictIncidents(acked [][]*iamsentryv1.Verdict) map[string]int {
	out := map[string]int{}
	for _, vs := range acked {
		consistency.AddVerdictIncidents(out, vs, true)
	}
	return out
}

// TestRedisOutageMidStream kills the real redis-server while a stream is
// scoring, and restarts it: the affected request fails with UNAVAILABLE,
// nothing unscored is acknowledged, serving resumes without a restart of
// the scorer, and replaying the unacknowledged requests gives exactly the
// incidents of a run without the fault.
func TestRedisOutageMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-servers")
	}
	ctx := context.Background()
	recs := consistency.Raws(corpus.Generate(corpus.Options{Seed: 11}))
	reqs := requests(recs, 20)

	// The run without a fault.
	ref := startOutageServer(t, redistest.StartDurableServer(t).URL())
	ref.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	want := make([][]*iamsentryv1.Verdict, len(reqs))
	if n, err := streamFrom(ctx, ref.client, reqs, 0, 4, want, func(int) {}); err != nil || n != len(reqs) {
		t.Fatalf("reference run: %d of %d requests, %v", n, len(reqs), err)
	}
	wantIncidents := verdictIncidents(want)
	if len(wantIncidents) == 0 {
		t.Fatal("the corpus raised no incident: the check would prove nothing")
	}

	// The same stream, with Redis killed once 40% of it is acknowledged.
	redis := redistest.StartDurableServer(t)
	srv := startOutageServer(t, redis.URL())
	srv.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	got := make([][]*iamsentryv1.Verdict, len(reqs))
	killAt := len(reqs) * 4 / 10
	var once sync.Once
	next, err := streamFrom(ctx, srv.client, reqs, 0, 4, got, func(done int) {
		if done >= killAt {
			once.Do(redis.Kill)
		}
	})
	if err == nil {
		t.Fatalf("the stream survived a Redis kill: %d of %d requests answered", next, len(reqs))
	}
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("the stream ended with %v, want UNAVAILABLE", err)
	}
	for i := next; i < len(reqs); i++ {
		if got[i] != nil {
			t.Fatalf("request %d acknowledged after the one that failed", i)
		}
	}
	t.Logf("Redis killed after %d acknowledged requests; the stream failed at request %d of %d: %v", killAt, next, len(reqs), err)
	srv.waitHealth(t, healthpb.HealthCheckResponse_NOT_SERVING)

	redis.Restart()
	srv.waitHealth(t, healthpb.HealthCheckResponse_SERVING)
	replayed := next
	for attempt := 0; next < len(reqs); attempt++ {
		if attempt == 5 {
			t.Fatalf("no progress after Redis came back: %v", err)
		}
		next, err = streamFrom(ctx, srv.client, reqs, next, 4, got, func(int) {})
	}
	t.Logf("replayed %d requests from request %d", len(reqs)-replayed, replayed)

	gotIncidents := verdictIncidents(got)
	if d := consistency.Diff(wantIncidents, gotIncidents); d != "" {
		t.Errorf("incidents after the outage and replay differ from the run without a fault:\n%s", d)
	}
	if r := consistency.Repeated(gotIncidents); len(r) > 0 {
		t.Errorf("incidents alerted more than once: %v", r)
	}
	t.Logf("incidents by detector %v", consistency.ByDetector(wantIncidents))
}
