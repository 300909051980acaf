package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	collectorlogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	vectorpb "github.com/iamsentry/iamsentry/gen/vector"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// syncBuffer is a log destination several goroutines write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// failingStore fails every round trip with the error fail returns while
// set, the way the Redis backend does: its errors name the state key, and
// keys carry the identity a record names.
type failingStore struct {
	state.Store
	fail atomic.Pointer[error]
}

func (s *failingStore) Exec(ctx context.Context, b *state.Batch) error {
	if p := s.fail.Load(); p != nil {
		b.FailAll(*p)
		return *p
	}
	return s.Store.Exec(ctx, b)
}

// TestLogsCarryNoRecordValues sends records holding a recognisable secret
// through every path that logs about records (rejections on OTLP and
// Vector, a scoring failure, a state outage) and checks that the secret
// never reaches the server's log: records are untrusted input and may hold
// what a log must not keep (identities, keys, tokens pasted into request
// parameters). The log says what happened with counts and reason codes.
func TestLogsCarryNoRecordValues(t *testing.T) {
	const secret = "S3CRET-hunter2-7f3a9c"
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := &failingStore{Store: memory.New()}
	addr, _ := serveEngine(t, store, engine.Options{}, server.Options{Logger: log})
	c := conn(t, addr, nil)
	ctx := context.Background()

	// Rejected: an eventTime that is the secret (the parser quotes it in
	// its message), and a body that is not JSON at all.
	badTime := bytes.Replace(readFile(t, "get_caller_identity.json"),
		[]byte(`"2024-08-01T13:42:21Z"`), []byte(`"`+secret+`"`), 1)
	notJSON := []byte("password=" + secret)
	resp, err := collectorlogspb.NewLogsServiceClient(c).Export(ctx, otlpRequest(stringBody(badTime), stringBody(notJSON)))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.GetPartialSuccess().GetRejectedLogRecords(); got != 2 {
		t.Fatalf("OTLP rejected %d records, want 2", got)
	}
	if _, err := vectorpb.NewVectorClient(c).PushEvents(ctx, &vectorpb.PushEventsRequest{Events: []*vectorpb.EventWrapper{
		vectorMessage(badTime), vectorMessage(notJSON)}}); err != nil {
		t.Fatal(err)
	}

	// Failed: the store's errors name a key holding the secret, and the
	// record's own event id is the secret.
	withID := bytes.Replace(readFile(t, "get_caller_identity.json"),
		[]byte(`"e544d47e-6d75-45cf-a8a9-7e90d5f7d38d"`), []byte(`"`+secret+`"`), 1)
	client := iamsentryv1.NewDetectionServiceClient(c)
	for _, tc := range []struct {
		err  error
		code codes.Code
	}{
		{fmt.Errorf("redis: key {default:%s}: %w", secret, errors.New("ERR unexpected reply")), codes.Internal},
		{fmt.Errorf("redis: key {default:%s}: %w: %w", secret, state.ErrUnavailable,
			&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}), codes.Unavailable},
	} {
		store.fail.Store(&tc.err)
		_, err := client.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{jsonEvent(withID)}})
		if status.Code(err) != tc.code {
			t.Fatalf("scoring with the store failing (%v): %v, want %v", tc.err, err, tc.code)
		}
	}
	store.fail.Store(nil)

	out := logs.String()
	for _, want := range []string{`"msg":"shipped records rejected"`, `"msg":"scoring failed"`, `"msg":"state backend unavailable; request not scored"`,
		`bad_event_time=1`, `not_json=1`, `"rejected":2`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, secret) || strings.Contains(out, "hunter2") {
		t.Errorf("rule: logs carry no record values; the secret is in the log:\n%s", out)
	}
}
