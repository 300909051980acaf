// Package redistest starts real redis-server processes for tests: a
// standalone server or a Redis Cluster, each on free loopback ports, in the
// test's temporary directory, without persistence, torn down by t.Cleanup.
//
// A fake Redis proves nothing about scripts, slots or expiry, so tests that
// need Redis use the real one. When redis-server is not installed the test
// fails (it does not skip) and says what to install.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// InstallHint says how to get redis-server and redis-cli.
const InstallHint = "redis-server and redis-cli are required: run `make redis` " +
	"or `apt-get install -y redis-server redis-tools`"

// startTimeout bounds how long a server may take to answer PING.
const startTimeout = 10 * time.Second

// Server is one redis-server process.
type Server struct {
	t    testing.TB
	dir  string
	port int
	args []string // extra arguments (cluster mode)

	mu   sync.Mutex
	proc *os.Process   // nil while stopped
	done chan struct{} // closed when proc has exited and been reaped
}

// StartServer starts a standalone redis-server on a free loopback port and
// stops it when the test ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	return startServer(t, t.TempDir())
}

// StartDurableServer starts a standalone redis-server that writes every
// command to an append-only file before answering (appendfsync always), so
// Kill and Restart lose nothing it acknowledged, as a production Redis with
// persistence would.
func StartDurableServer(t testing.TB) *Server {
	t.Helper()
	return startServer(t, t.TempDir(), "--appendonly", "yes", "--appendfsync", "always")
}

// StartTLSServer starts a standalone redis-server that also listens for TLS
// on a port of its own, with the given server certificate and key; clients
// need not present a certificate unless caFile is set, in which case they
// must present one signed by it. It returns the server (whose plain port
// the harness uses to check readiness) and the TLS address.
func StartTLSServer(t testing.TB, certFile, keyFile, caFile string) (*Server, string) {
	t.Helper()
	tlsPort := freePort(t, false)
	args := []string{"--tls-port", strconv.Itoa(tlsPort), "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--tls-auth-clients", "no"}
	if caFile != "" {
		args = append(args, "--tls-ca-cert-file", caFile, "--tls-auth-clients", "yes")
	} else {
		// redis-server requires a CA setting with TLS even when clients
		// do not authenticate; the server's own chain serves.
		args = append(args, "--tls-ca-cert-file", certFile)
	}
	s := startServer(t, t.TempDir(), args...)
	return s, net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))
}

func startServer(t testing.TB, dir string, args ...string) *Server {
	t.Helper()
	requireBinaries(t, "redis-server")
	s := &Server{t: t, dir: dir, args: args}
	var err error
	for range 5 { // a port found free may be taken before the server binds it
		s.port = freePort(t, slices.Contains(args, "--cluster-enabled"))
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// Addr returns the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns a redis:// URL of the server, as iamsentry's setting takes it.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Client returns a go-redis client of the server, closed when the test ends.
func (s *Server) Client() *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), DisableIdentity: true})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Kill stops the server with SIGKILL, as a crash would, and waits for it.
// A server from StartServer keeps no data; one from StartDurableServer
// keeps what it acknowledged.
func (s *Server) Kill() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	_ = s.proc.Kill()
	<-s.done
	s.proc = nil
}

// Restart kills the server if it runs and starts it again on the same port.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redistest: restart on port %d: %v", s.port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// CommandStats returns how often each command ran, from INFO commandstats,
// keyed by lower-case command name ("evalsha", "set", ...).
func (s *Server) CommandStats(ctx context.Context) map[string]int64 {
	s.t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), DisableIdentity: true})
	defer c.Close()
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		s.t.Fatalf("redistest: INFO commandstats: %v", err)
	}
	return ParseCommandStats(info)
}

// UsedMemory returns what the server spends on memory now: used_memory
// from INFO memory, the figure maxmemory is compared against.
func (s *Server) UsedMemory(ctx context.Context) int64 {
	s.t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), DisableIdentity: true})
	defer c.Close()
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		s.t.Fatalf("redistest: INFO memory: %v", err)
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				s.t.Fatalf("redistest: INFO memory used_memory %q: %v", v, err)
			}
			return n
		}
	}
	s.t.Fatal("redistest: INFO memory has no used_memory")
	return 0
}

// CPU returns the CPU time the server behind c has used, user and
// system, in microseconds (INFO cpu): what a benchmark charges Redis per
// event is the difference of two readings.
func CPU(tb testing.TB, c *goredis.Client) int64 {
	tb.Helper()
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		tb.Fatalf("redistest: INFO cpu: %v", err)
	}
	var total float64
	for line := range strings.SplitSeq(info, "\r\n") {
		for _, f := range []string{"used_cpu_user:", "used_cpu_sys:"} {
			if v, ok := strings.CutPrefix(line, f); ok {
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					tb.Fatalf("redistest: INFO cpu %q: %v", line, err)
				}
				total += x
			}
		}
	}
	return int64(total * 1e6)
}

// ParseCommandStats parses the reply of INFO commandstats into calls per
// command.
func ParseCommandStats(info string) map[string]int64 {
	stats := make(map[string]int64)
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		// cmdstat_set:calls=3,usec=12,usec_per_call=4.00,...
		name, rest, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "cmdstat_"), ":")
		if !ok || len(name) == len(sc.Text()) {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				stats[strings.ReplaceAll(name, "|", " ")] = n
			}
		}
	}
	return stats
}

func (s *Server) start() error {
	args := []string{
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--save", "", "--appendonly", "no",
		"--logfile", filepath.Join(s.dir, fmt.Sprintf("redis-%d.log", s.port)),
		"--daemonize", "no", "--protected-mode", "no",
		// DEBUG SLEEP stalls the server past a client's read timeout: the
		// fault tests inject to lose a reply after a pipeline ran.
		"--enable-debug-command", "local",
	}
	cmd := exec.Command("redis-server", append(args, s.args...)...)
	// Die with the test binary even if cleanup never runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(done) }()
	if err := waitReady(s.Addr(), done, &exitErr); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("redis-server on port %d: %w (log: %s)", s.port, err, s.logTail())
	}
	s.mu.Lock()
	s.proc, s.done = cmd.Process, done
	s.mu.Unlock()
	return nil
}

// stop kills the server for good at cleanup.
func (s *Server) stop() { s.Kill() }

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, fmt.Sprintf("redis-%d.log", s.port)))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], " | ")
}

// waitReady polls PING until the server answers, exits or time runs out.
func waitReady(addr string, exited <-chan struct{}, exitErr *error) error {
	c := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exited:
			return fmt.Errorf("exited at start: %v", *exitErr)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no PONG within %v: %w", startTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a loopback port that is free now. Cluster nodes also
// need port+10000 for the cluster bus, so that one must be free too.
func freePort(t testing.TB, withBus bool) int {
	t.Helper()
	for range 100 {
		// Stay clear of 6379, of the ephemeral range and, with the bus
		// offset, of 65535.
		p := 20000 + rand.IntN(20000)
		if portFree(p) && (!withBus || portFree(p+10000)) {
			return p
		}
	}
	t.Fatal("redistest: no free loopback port found")
	return 0
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// requireBinaries fails the test when a Redis binary is missing.
func requireBinaries(t testing.TB, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("redistest: %s not found on PATH. %s", strings.Join(missing, " and "), InstallHint)
	}
}
