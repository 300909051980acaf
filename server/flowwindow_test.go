package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/state/memory"
)

// frameCounter counts the HTTP/2 frames a server writes, by type and
// flags, from the bytes its client reads (a server sends no preface: its
// first byte starts a frame).
type frameCounter struct {
	net.Conn
	mu      sync.Mutex
	pending []byte
	pings   int // PING frames without ACK: the server asking for a round trip
	frames  int
}

func (c *frameCounter) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, p[:n]...)
	for len(c.pending) >= 9 {
		size := int(binary.BigEndian.Uint32(append([]byte{0}, c.pending[:3]...)))
		if len(c.pending) < 9+size {
			break
		}
		c.frames++
		if c.pending[3] == 6 && c.pending[4]&1 == 0 { // PING, not an ACK
			c.pings++
		}
		c.pending = c.pending[9+size:]
	}
	return n, err
}

func (c *frameCounter) counts() (frames, pings int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frames, c.pings
}

// TestOneEventRequestsCostNoPings: a client sending one event per request
// and waiting for each verdict (a shipper at a low rate) gets one response
// per request and no PING from the server. grpc-go's dynamic flow-control
// window would ask for a PING round trip after each request it receives,
// a write and a read system call each on both ends, for a window that
// reaches its ceiling anyway; the server fixes its windows instead.
func TestOneEventRequestsCostNoPings(t *testing.T) {
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New()
	defer mem.Close()
	srv := server.New(engine.New(reg, mem, engine.Options{}), server.Options{})
	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	defer func() { cancel(); <-done }()
	var counter *frameCounter
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			c, err := lis.DialContext(ctx)
			if err != nil {
				return nil, err
			}
			counter = &frameCounter{Conn: c}
			return counter, nil
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := iamsentryv1.NewDetectionServiceClient(conn).Score(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tmpl := readFile(t, "get_caller_identity.json")
	const requests = 50
	for i := range requests {
		rec := bytes.Replace(tmpl, []byte(`"eventID": "`), []byte(`"eventID": "ping-`+string(rune('a'+i%26))+string(rune('a'+i/26))), 1)
		if err := stream.Send(&iamsentryv1.ScoreRequest{Sequence: uint64(i), Events: []*iamsentryv1.Event{jsonEvent(rec)}}); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetSequence() != uint64(i) || len(resp.GetVerdicts()) != 1 {
			t.Fatalf("response %d: sequence %d with %d verdicts, want sequence %d with 1", i, resp.GetSequence(), len(resp.GetVerdicts()), i)
		}
	}
	frames, pings := counter.counts()
	t.Logf("%d frames from the server, %d PINGs, for %d requests", frames, pings, requests)
	if pings != 0 {
		t.Errorf("the server sent %d PINGs (%d frames in all) for %d one-event requests, want none", pings, frames, requests)
	}
	if frames < requests {
		t.Errorf("counted %d frames for %d responses: the counter misses frames", frames, requests)
	}
}
