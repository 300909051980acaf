package sqssource_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/iamsentry/iamsentry/internal/cli"
	"github.com/iamsentry/iamsentry/internal/trail/trailtest"
)

// syncBuffer is a buffer serve may write while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServeSource runs `serve --source sqs://QUEUE`: the notified files are
// scored and their messages deleted, and /metrics counts them.
func TestServeSource(t *testing.T) {
	objects, _ := trailtest.OrgTrail(t)
	w := newWorld(t, objects)
	queue, _ := w.newQueue(t, 30, 0)
	for _, k := range w.keys {
		w.send(t, queue, snsWrapped(s3Event(k)))
	}
	w.send(t, queue, testEvent)
	name := queue[strings.LastIndexByte(queue, '/')+1:]
	admin := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", admin, "--log-format", "text",
			"--source", "sqs://" + name, "--sqs-endpoint", w.sqsEndpoint, "--source-s3-endpoint", w.s3Endpoint},
			cli.Stdio{In: strings.NewReader(""), Out: io.Discard, Err: &errb})
	}()
	waitFor(t, "the queue emptied by serve", func() bool { return w.depth(t, queue) == 0 })
	var metrics string
	waitFor(t, "the messages counted on /metrics", func() bool {
		resp, err := http.Get("http://" + admin + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		metrics = string(b)
		return hasSeries(metrics, "iamsentry_sqs_messages_total", `outcome="deleted"`)
	})
	for _, want := range [][2]string{
		{"iamsentry_sqs_objects_total", `outcome="scored"`}, {"iamsentry_sqs_records_total", `outcome="CLEAN"`},
		{"iamsentry_sqs_messages_total", `outcome="test_event"`}, {"iamsentry_sqs_queue_messages", `state="visible"`},
		{"iamsentry_sqs_message_age_seconds_count", `queue="`},
	} {
		if !hasSeries(metrics, want[0], want[1]) {
			t.Errorf("/metrics has no %s with %s", want[0], want[1])
		}
	}
	cancel()
	if code := <-done; code != cli.ExitOK {
		t.Errorf("serve exit %d\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "reading S3 notifications") {
		t.Errorf("serve did not log its source:\n%s", errb.String())
	}
}

func TestServeSourceUsage(t *testing.T) {
	for _, tt := range []struct{ arg, want string }{
		{"s3://org-trail/", "only sqs:// sources are read live"},
		{"sqs://host/notanaccount/q", "want sqs://HOST/ACCOUNT/QUEUE"},
	} {
		var errb bytes.Buffer
		code := cli.Main(context.Background(), []string{"serve", "--source", tt.arg}, cli.Stdio{In: strings.NewReader(""), Out: io.Discard, Err: &errb})
		if code != cli.ExitUsage || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("--source %s: exit %d, want %d and %q in:\n%s", tt.arg, code, cli.ExitUsage, tt.want, errb.String())
		}
	}
}

// hasSeries reports whether a Prometheus exposition has a series of the
// metric with the label.
func hasSeries(exposition, metric, label string) bool {
	for _, l := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(l, metric+"{") && strings.Contains(l, label) {
			return true
		}
	}
	return false
}
