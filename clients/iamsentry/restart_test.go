package iamsentry_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/clients/iamsentry"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/internal/corpus"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/server"
)

// binary builds cmd/iamsentry once per test.
func binary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "iamsentry")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/iamsentry")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveProcess starts `iamsentry serve` on addr with shared state in Redis
// and waits until it accepts connections.
func serveProcess(t *testing.T, bin, addr, redisURL string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--listen", addr, "--admin-listen", "127.0.0.1:0", "--redis", redisURL, "--log-format", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	eventually(t, "serve to listen on "+addr, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return cmd
}

// finding identifies a finding independent of which attempt raised it.
//
// A finding is named by its detector and incident, not by the event that
// carries it: which record of a pair completes it (caller-identity-recon's
// probe and listing) depends on how records fall into micro-batches, and a
// restart changes that (the resent requests batch differently). What must
// not change is the incidents and how many findings each raised.
func findingKeys(v *iamsentry.Verdict) []string {
	var out []string
	for _, f := range v.GetFindings() {
		out = append(out, f.GetDetectorId()+" "+f.GetIncident())
	}
	return out
}

// The real server process is killed (SIGKILL: no goodbye, no GOAWAY) while
// requests are in flight — after it scored some whose responses a proxy
// dropped — and started again on the same port, sharing state in a real
// Redis. Every record must get exactly one verdict, in order; the
// findings must be those of an uninterrupted run (scoring is exactly once:
// records scored before the kill come back DUPLICATE with their findings).
func TestServerKilledAndRestartedLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary: skipped with -short")
	}
	var recs [][]byte
	for _, r := range corpus.Generate(corpus.Options{Seed: 5, Days: 10, Users: 40}) {
		recs = append(recs, r.JSON)
	}
	want := uninterruptedFindings(t, recs)

	redis := redistest.StartServer(t)
	bin := binary(t)
	addr := freeLoopback(t)
	proc := serveProcess(t, bin, addr, redis.URL())
	px := startProxy(t, addr)
	c := dial(t, px.addr, iamsentry.WithBatch(20), iamsentry.WithWindow(4),
		iamsentry.WithBackoff(50*time.Millisecond, time.Second), iamsentry.WithGiveUpAfter(time.Minute))
	s, err := c.NewStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	killAt := len(recs) / 3
	var got []iamsentry.Result
	var mu sync.Mutex
	killed := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r := range s.Results() {
			mu.Lock()
			got = append(got, r)
			n := len(got)
			mu.Unlock()
			if n == killAt {
				close(killed) // the sender is still ahead: requests are in flight
			}
		}
	}()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i, r := range recs {
			if err := s.Send(context.Background(), r, i); err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
		}
	}()
	<-killed
	// Let the server score requests whose responses never reach the
	// client: those records must come back DUPLICATE after the restart.
	px.hold.Store(true)
	eventually(t, "responses the client will never see", func() bool { return px.dropped.Load() >= 500 })
	proc.Process.Kill()
	proc.Wait()
	px.hold.Store(false)
	serveProcess(t, bin, addr, redis.URL())
	<-sent
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-done

	if len(got) != len(recs) {
		t.Fatalf("%d results for %d records", len(got), len(recs))
	}
	outcomes := map[iamsentryv1.Outcome]int{}
	var findings []string
	for i, r := range got {
		if r.Err != nil || r.Tag != i {
			t.Fatalf("result %d: tag %v, err %v: want record %d's verdict", i, r.Tag, r.Err, i)
		}
		outcomes[r.Verdict.GetOutcome()]++
		findings = append(findings, findingKeys(r.Verdict)...)
	}
	sort.Strings(findings)
	if fmt.Sprint(findings) != fmt.Sprint(want) {
		t.Errorf("findings differ from an uninterrupted run:\n got %d: %v\nwant %d: %v", len(findings), findings, len(want), want)
	}
	st := s.Stats()
	if st.Reconnects == 0 || st.Resent == 0 || outcomes[iamsentryv1.Outcome_OUTCOME_DUPLICATE] == 0 {
		t.Errorf("stats %+v, outcomes %v: the kill must have cost a reconnect and resends, and the records scored but unanswered must come back DUPLICATE", st, outcomes)
	}
	t.Logf("killed after %d of %d verdicts: %d reconnects, %d requests resent; outcomes %v (%d DUPLICATE: scored before the kill, answered after)",
		killAt, len(recs), st.Reconnects, st.Resent, outcomes, outcomes[iamsentryv1.Outcome_OUTCOME_DUPLICATE])

	// Every record was recorded as scored: sending them all again yields
	// nothing but duplicates.
	again, err := c.Score(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range again {
		if v.GetOutcome() != iamsentryv1.Outcome_OUTCOME_DUPLICATE {
			t.Fatalf("record %d resent after the run: %s, want DUPLICATE", i, v.GetOutcome())
		}
	}
}

// uninterruptedFindings scores recs on an in-process server that nobody
// kills, with the same batching, and returns the sorted finding keys.
func uninterruptedFindings(t *testing.T, recs [][]byte) []string {
	t.Helper()
	srv := startServer(t, server.Options{})
	c := dial(t, srv.addr, iamsentry.WithBatch(20), iamsentry.WithWindow(4))
	vs, err := c.Score(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range vs {
		out = append(out, findingKeys(v)...)
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatal("the corpus raised no finding; the comparison would prove nothing")
	}
	return out
}

// proxy forwards TCP to a server; while hold is set it drops what the
// server sends, as a network that fails after the server answered.
type proxy struct {
	addr    string
	hold    atomic.Bool
	dropped atomic.Int64
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	p := &proxy{addr: lis.Addr().String()}
	go func() {
		for {
			down, err := lis.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				down.Close()
				continue
			}
			go func() { io.Copy(up, down); up.Close() }()
			go func() { p.forward(down, up); down.Close() }()
		}
	}()
	return p
}

func (p *proxy) forward(down, up net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			if p.hold.Load() {
				p.dropped.Add(int64(n))
			} else if _, werr := down.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
