package cli_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/cli"
	"github.com/iamsentry/iamsentry/internal/pkitest"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/server/auth"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// downStore is the embedded store whose Ping always fails: the server
// stays NOT_SERVING.
type downStore struct{ state.Store }

func (downStore) Ping(context.Context) error { return state.ErrUnavailable }

// startProbed serves a server on loopback TCP for health to probe.
func startProbed(t *testing.T, store state.Store, opts server.Options) string {
	t.Helper()
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	opts.ReadyInterval = 20 * time.Millisecond
	opts.GracePeriod = 100 * time.Millisecond
	srv := server.New(engine.New(reg, store, engine.Options{}), opts)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	return lis.Addr().String()
}

// probeUntil runs health until it exits with want (a server reports
// NOT_SERVING until its first readiness check) or time runs out.
func probeUntil(t *testing.T, want int, args ...string) (code int, out, errs string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, out, errs = runCLI(t, "", append([]string{"health"}, args...)...)
		if code == want || time.Now().After(deadline) {
			return code, out, errs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHealthProbe(t *testing.T) {
	addr := startProbed(t, memory.New(), server.Options{})
	if code, out, errs := probeUntil(t, cli.ExitOK, "--addr", addr); code != cli.ExitOK || strings.TrimSpace(out) != "SERVING" {
		t.Errorf("serving server: exit %d, stdout %q, stderr %q; want 0 and SERVING", code, out, errs)
	}
	if code, out, _ := runCLI(t, "", "health", "--addr", addr, "--service", server.ServiceName); code != cli.ExitOK || !strings.Contains(out, "SERVING") {
		t.Errorf("--service %s: exit %d, %q", server.ServiceName, code, out)
	}
	if code, _, errs := runCLI(t, "", "health", "--addr", addr, "--service", "no.such.Service"); code != cli.ExitError || !strings.Contains(errs, "NotFound") {
		t.Errorf("unknown service: exit %d, stderr %q; want 1 and NotFound", code, errs)
	}
	down := startProbed(t, downStore{memory.New()}, server.Options{})
	if code, out, _ := runCLI(t, "", "health", "--addr", down); code != cli.ExitError || strings.TrimSpace(out) != "NOT_SERVING" {
		t.Errorf("server whose store is down: exit %d, stdout %q; want 1 and NOT_SERVING", code, out)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	if code, _, errs := runCLI(t, "", "health", "--addr", closed, "--timeout", "300ms"); code != cli.ExitError || errs == "" {
		t.Errorf("nothing listening: exit %d, stderr %q; want 1 with the reason", code, errs)
	}
}

func TestHealthProbeTLSAndToken(t *testing.T) {
	ca := pkitest.NewCA(t, "probe")
	pair := ca.Server("srv")
	sum := sha256.Sum256([]byte("probe-token"))
	tokens, err := auth.LoadTokens(writeFile(t, "tokens.yaml", "tokens:\n  "+hex.EncodeToString(sum[:])+": ops\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := auth.ServerConfig(auth.ServerFiles{CertFile: pair.CertFile, KeyFile: pair.KeyFile}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Health closed: the probe must bring the token.
	addr := startProbed(t, memory.New(), server.Options{TLS: cfg, Auth: &auth.Authenticator{Tokens: tokens}})
	tls := []string{"--addr", addr, "--tls-ca-file", ca.File, "--tls-server-name", "iamsentry.test"}
	good := writeFile(t, "token", "probe-token\n")
	if code, out, errs := probeUntil(t, cli.ExitOK, append(tls, "--token-file", good)...); code != cli.ExitOK {
		t.Errorf("TLS with a good token: exit %d, %q %q", code, out, errs)
	}
	if code, _, errs := runCLI(t, "", append([]string{"health"}, tls...)...); code != cli.ExitError || !strings.Contains(errs, "Unauthenticated") {
		t.Errorf("no token, health closed: exit %d, stderr %q; want 1 and Unauthenticated", code, errs)
	}
	other := pkitest.NewCA(t, "other")
	if code, _, _ := runCLI(t, "", "health", "--addr", addr, "--tls-ca-file", other.File, "--tls-server-name", "iamsentry.test", "--timeout", "2s"); code != cli.ExitError {
		t.Errorf("server certificate from an untrusted CA: exit %d, want 1", code)
	}
}

func TestHealthUsage(t *testing.T) {
	for name, args := range map[string][]string{
		"stray argument":        {"--addr", "127.0.0.1:1", "extra"},
		"token over plaintext":  {"--addr", "127.0.0.1:1", "--token-file", "/dev/null"},
		"certificate, no key":   {"--addr", "127.0.0.1:1", "--tls-cert-file", "c.pem"},
		"bad timeout":           {"--addr", "127.0.0.1:1", "--timeout", "0s"},
		"unreadable CA file":    {"--addr", "127.0.0.1:1", "--tls-ca-file", "/nonexistent/ca.pem"},
		"undefined flag":        {"--addr", "127.0.0.1:1", "--nope"},
		"unreadable token file": {"--addr", "127.0.0.1:1", "--tls", "--token-file", "/nonexistent/token"},
	} {
		t.Run(name, func(t *testing.T) {
			if code, _, errs := runCLI(t, "", append([]string{"health"}, args...)...); code != cli.ExitUsage || errs == "" {
				t.Errorf("exit %d, stderr %q; want 2 with a reason", code, errs)
			}
		})
	}
}

// health calls the server replay calls when --addr is not given: the one
// `make run` serves. Another engineer's server may answer there, so either
// answer will do as long as it came from localhost:50051.
func TestHealthDefaultsToLocalServer(t *testing.T) {
	code, out, errs := runCLI(t, "", "health", "--timeout", "300ms")
	if code == cli.ExitOK && strings.TrimSpace(out) == "SERVING" {
		return
	}
	if code != cli.ExitError || !strings.Contains(errs, "localhost:50051") {
		t.Errorf("health without --addr: exit %d, stdout %q, stderr %q; want it to probe localhost:50051", code, out, errs)
	}
}

// --token defaults to $IAMSENTRY_TOKEN for health as for replay, with the
// same refusal to send it in plaintext.
func TestHealthTokenFromEnvironment(t *testing.T) {
	t.Setenv("IAMSENTRY_TOKEN", "env-token")
	code, _, errs := runCLI(t, "", "health", "--addr", "127.0.0.1:1")
	if code != cli.ExitUsage || !strings.Contains(errs, "refusing to send a bearer token over plaintext") || strings.Contains(errs, "env-token") {
		t.Errorf("exit %d, stderr %q; want 2 and a refusal that does not show the token", code, errs)
	}
}

func TestConfigValidate(t *testing.T) {
	good := writeFile(t, "good.yaml", "accounts: [\"111122223333\"]\ndetectors:\n  caller-identity-recon:\n    enabled: false\n")
	code, out, errs := runCLI(t, "", "config", "validate", good)
	if code != cli.ExitOK || !strings.Contains(errs, "valid") {
		t.Fatalf("good file: exit %d, stderr %q", code, errs)
	}
	if !strings.Contains(out, "detectors enabled: ") || strings.Contains(out, "caller-identity-recon") {
		t.Errorf("the enabled detectors must be listed without the disabled one:\n%s", out)
	}
	if !strings.Contains(out, "note: assume-role-unexpected-source") {
		t.Errorf("detector notes missing (no trusted_networks configured):\n%s", out)
	}
	if code, _, errs := runCLI(t, "", "config", "validate", "../../deploy/iamsentry.example.yaml"); code != cli.ExitOK {
		t.Errorf("the shipped example config: exit %d\n%s", code, errs)
	}

	bad := writeFile(t, "bad.yaml", "detectors:\n  nope:\n    enabled: true\ntrusted_networks:\n  cidrs: [\"10.0.0.0/33\"]\nredis:\n  url: \"redis://h:1?colour=red\"\n")
	code, out, _ = runCLI(t, "", "config", "validate", bad)
	if code != cli.ExitError {
		t.Fatalf("bad file: exit %d, want 1", code)
	}
	for _, want := range []string{"nope", "10.0.0.0/33", "colour"} {
		if !strings.Contains(out, want) {
			t.Errorf("every error must be printed; %q missing from:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "error: "); n < 3 {
		t.Errorf("%d error lines, want one per problem (3):\n%s", n, out)
	}
	if code, out, _ := runCLI(t, "", "config", "validate", "/nonexistent.yaml"); code != cli.ExitError || !strings.Contains(out, "error: ") {
		t.Errorf("missing file: exit %d, %q", code, out)
	}
	for _, args := range [][]string{{"config"}, {"config", "check", good}, {"config", "validate"}, {"config", "validate", good, good}} {
		if code, _, _ := runCLI(t, "", args...); code != cli.ExitUsage {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

// TestServeFlagsForDeploy pins the names and defaults deploy/ relies on.
func TestServeFlagsForDeploy(t *testing.T) {
	fs := cli.ServeFlags()
	for name, def := range map[string]string{
		"listen": ":50051", "admin-listen": ":9090", "tls-cert": "", "tls-key": "", "tls-client-ca": "",
		"tokens": "", "open-health": "true",
	} {
		f := fs.Lookup(name)
		if f == nil {
			t.Errorf("serve has no --%s", name)
			continue
		}
		if f.DefValue != def {
			t.Errorf("--%s defaults to %q, want %q", name, f.DefValue, def)
		}
	}
}

func TestServeSecurityFlagErrors(t *testing.T) {
	ca := pkitest.NewCA(t, "serve")
	pair := ca.Server("srv")
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"cert without key":      {[]string{"--tls-cert", pair.CertFile}, "--tls-cert and --tls-key go together"},
		"client CA without TLS": {[]string{"--tls-client-ca", ca.File}, "--tls-client-ca needs --tls-cert"},
		"unreadable tokens":     {[]string{"--tokens", "/nonexistent/tokens.yaml"}, "token file"},
		"plain token in file":   {[]string{"--tokens", writeFile(t, "t.yaml", "tokens:\n  hunter2: acme\n")}, "not a SHA-256 hash"},
	} {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", "", "--log-format", "text"}, tc.args...)
			code, _, errs := runCLI(t, "", args...)
			if code != cli.ExitError || !strings.Contains(errs, tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errs, tc.want)
			}
			if strings.Contains(errs, "hunter2") {
				t.Errorf("serve logged a token: %q", errs)
			}
		})
	}
}
