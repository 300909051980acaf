// Package e2e tests iamsentry from the outside: the real binary started by
// `make run`, driven by grpcurl with the commands the README shows.
package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// repoRoot is the module root, two levels up from this package.
var repoRoot = func() string {
	abs, err := filepath.Abs("../..")
	if err != nil {
		panic(err)
	}
	return abs
}()

// The binaries the tests run, built by TestMain as a newcomer builds them.
var (
	iamsentryBin = filepath.Join(repoRoot, "bin", "iamsentry")
	grpcurlPath  = filepath.Join(repoRoot, "bin", "grpcurl")
)

// buildBound bounds TestMain's build: generous, since from an empty build
// cache on a busy machine the two binaries take several minutes.
const buildBound = 20 * time.Minute

// TestMain builds bin/iamsentry and bin/grpcurl with `make build tools`
// before any test starts, so no test's timeout covers a build. Tests that
// start `make run` then find the binary up to date. With -short every test
// here skips, so nothing is built.
func TestMain(m *testing.M) {
	flag.Parse()
	// The binaries the tests run must not pick up GeoIP databases a
	// developer fetched to the default path: findings would differ.
	os.Setenv("IAMSENTRY_GEOIP_DIR", "off")
	if !testing.Short() {
		if err := buildTools(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

func buildTools() error {
	ctx, cancel := context.WithTimeout(context.Background(), buildBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-s", "--no-print-directory", "build", "tools")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("e2e: make build tools, before the tests: %w\n%s", err, out)
	}
	return nil
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

// process is a running command whose stderr is collected.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan error
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// startMakeRun runs `make run` on a free loopback port, as a newcomer
// would, and waits until the port accepts connections.
func startMakeRun(t *testing.T) (*process, string) {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command("make", "-s", "run", "LISTEN="+addr, "ADMIN_LISTEN=127.0.0.1:0")
	cmd.Dir = repoRoot
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &process{cmd: cmd, exited: make(chan error, 1)}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.Write(append(sc.Bytes(), '\n'))
			p.mu.Unlock()
		}
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	deadline := time.Now().Add(time.Minute) // TestMain built the binary: make run finds it up to date
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return p, addr
		}
		select {
		case err := <-p.exited:
			t.Fatalf("make run exited before serving: %v\n%s", err, p.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("make run did not serve on %s in time\n%s", addr, p.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// run runs a shell snippet in the repository root after the README's
// setup (`make tools`, then bin/ on PATH), its output combined.
func run(t *testing.T, script string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := shell(t, script, &out, &out)
	return out.String(), err
}

// shell runs a shell snippet as run does, with its own stdout and stderr.
// Everything it runs is built already, so a minute is ample.
func shell(t *testing.T, script string, stdout, stderr io.Writer) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "PATH="+filepath.Join(repoRoot, "bin")+":"+os.Getenv("PATH"))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd.Run()
}

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
}

func TestMakeRunServes(t *testing.T) {
	skipShort(t)
	p, addr := startMakeRun(t)
	out, err := run(t, "grpcurl -plaintext "+addr+" list")
	if err != nil {
		t.Fatalf("grpcurl list: %v\n%s", err, out)
	}
	for _, svc := range []string{"iamsentry.v1.DetectionService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !strings.Contains(out, svc) {
			t.Errorf("grpcurl list does not show %s:\n%s", svc, out)
		}
	}
	for _, want := range []string{`"msg":"serving"`, "single replica only", "admin-policy-attached"} {
		if !strings.Contains(p.log(), want) {
			t.Errorf("serve's start-up log lacks %q:\n%s", want, p.log())
		}
	}
	// Ctrl-C in the terminal: SIGINT to the foreground process group.
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("make run did not stop within 30 s of Ctrl-C")
	}
	if !strings.Contains(p.log(), `"msg":"stopped"`) {
		t.Errorf("Ctrl-C did not stop serve in order:\n%s", p.log())
	}
}

// TestMakeHelpAndTools checks what a newcomer meets first: `make help`
// shows the values of the make variables it names, and the grpcurl `make
// tools` built, called by name as the README's setup puts bin/ on PATH,
// says its pinned version.
func TestMakeHelpAndTools(t *testing.T) {
	skipShort(t)
	out, err := run(t, "make -s --no-print-directory help LISTEN=127.0.0.1:6000")
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, out)
	}
	if strings.Contains(out, "$(") || !strings.Contains(out, "serve on 127.0.0.1:6000") {
		t.Errorf("make help must expand make variables (run's text names $(LISTEN)):\n%s", out)
	}
	out, err = run(t, "grpcurl -version")
	if err != nil || !strings.Contains(out, "grpcurl v1.9.4") {
		t.Errorf("grpcurl -version: %v, %q; want the pinned v1.9.4, not a dev build", err, out)
	}
}

func TestServeStopsGracefullyOnSIGTERM(t *testing.T) {
	skipShort(t)
	bin := iamsentryBin
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve", "--listen", addr, "--admin-listen", "127.0.0.1:0", "--log-format", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	waitDial(t, addr)
	cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM, want status 0\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not stop within 30 s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no orderly stop in the log:\n%s", stderr.String())
	}
}

func waitDial(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing serves on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestScanSharedData(t *testing.T) {
	skipShort(t)
	data := filepath.Join(repoRoot, "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		t.Skipf("shared data not found at %s", data)
	}
	cmd := exec.Command(iamsentryBin, "scan", data)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scan over %s: %v\n%s", data, err, stderr.String())
	}
	if !strings.Contains(stdout.String(), `"detector_id":"admin-policy-attached"`) {
		t.Errorf("scan printed no admin-policy-attached finding:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "scanned ") {
		t.Errorf("scan printed no summary:\n%s", stderr.String())
	}
	t.Logf("scan summary:\n%s", stderr.String())
}
