package cli_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/cli"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/state/memory"
)

// startServer serves iamsentry on a loopback port for the test.
func startServer(t *testing.T) string {
	t.Helper()
	reg, err := detectors.NewRegistry(detectors.Defaults()...)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(engine.New(reg, memory.New(), engine.Options{}), server.Options{GracePeriod: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	return lis.Addr().String()
}

func TestReplayStreamsFilesAndSummarises(t *testing.T) {
	addr := startServer(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "2024", "08"), 0o755)
	os.WriteFile(filepath.Join(dir, "2024", "08", "a.json"), []byte(`{"Records":[`+createRole+`]}`), 0o600)
	os.WriteFile(filepath.Join(dir, "2024", "08", "b.jsonl"), []byte(attachRole+"\n{\"broken\"\n"+`{"eventName":"X"}`+"\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("# Not records\n"), 0o600)
	code, out, errs := runCLI(t, "", "replay", "--addr", addr, "--progress", "plain", "--batch", "2", dir)
	if code != cli.ExitOK {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, errs)
	}
	var f map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &f); err != nil {
		t.Fatalf("want one finding as one JSON line, got %q: %v", out, err)
	}
	if f["detector_id"] != "admin-policy-attached" || f["severity"] != "CRITICAL" || f["event_id"] != "a1" {
		t.Errorf("finding %v, want admin-policy-attached CRITICAL on a1 (a.json's CreateRole is sent first)", f)
	}
	for _, want := range []string{
		"replayed 4 records from 2 inputs to " + addr + ": 1 clean, 1 findings, 0 suppressed, 0 duplicates, 2 invalid, 0 unanswered",
		"findings: admin-policy-attached CRITICAL",
		"invalid: not_json",                      // found by the local reader
		"invalid: record is missing eventSource", // found by the server
		"replay: done: 3 records answered",       // the broken line was never sent
		"skipped: 1 file not named as records",   // README.md
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	// Again: the server has seen every event id.
	code, out, errs = runCLI(t, "", "replay", "--addr", addr, "--progress", "off", "--format", "text", dir)
	if code != cli.ExitOK || out != "" || !strings.Contains(errs, "0 clean, 0 findings, 0 suppressed, 2 duplicates") {
		t.Errorf("second replay: exit %d, stdout %q; want 2 duplicates and no finding printed again:\n%s", code, out, errs)
	}
}

func TestReplayStdinTextAndLearn(t *testing.T) {
	addr := startServer(t)
	code, out, errs := runCLI(t, createRole+"\n", "replay", "--addr", addr, "--learn", "--progress", "off", "-")
	if code != cli.ExitOK || out != "" || !strings.Contains(errs, "to learn (no findings raised): 1 scored") {
		t.Fatalf("learn: exit %d, stdout %q:\n%s", code, out, errs)
	}
	code, out, errs = runCLI(t, attachRole+"\n", "replay", "--addr", addr, "--format", "text", "--progress", "off", "-")
	if code != cli.ExitOK || !strings.Contains(out, "CRITICAL") || !strings.Contains(out, "admin-policy-attached  a1") {
		t.Errorf("text findings: exit %d, stdout %q:\n%s", code, out, errs)
	}
}

func TestReplayExitCodes(t *testing.T) {
	addr := startServer(t)
	good := writeFile(t, "good.json", attachRole)
	missing := filepath.Join(t.TempDir(), "missing.json")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unreadable input", []string{"--addr", addr, missing, good}, cli.ExitError, "no such file"},
		{"server unreachable", []string{"--addr", freeAddr(t), "--give-up", "300ms", good}, cli.ExitError, "1 unanswered"},
		{"token without TLS", []string{"--addr", addr, "--token", "t", good}, cli.ExitError, "refusing to send a bearer token over plaintext"},
		{"no paths", []string{"--addr", addr}, cli.ExitUsage, "Usage: iamsentry replay"},
		{"bad format", []string{"--format", "xml", good}, cli.ExitUsage, "Usage: iamsentry replay"},
		{"bad window", []string{"--window", "0", good}, cli.ExitUsage, "Exit status:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, "", append([]string{"replay", "--progress", "off"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, want %d with %q in stderr:\n%s", code, tt.code, tt.want, errs)
			}
		})
	}
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
