package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/cli"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/state/memory"
)

// startServer serves iamsentry on a loopback port for the test.
func startServer(t *testing.T) string {
	t.Helper()
	reg, err := detectors.NewRegistry(builtin.All()...)
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
	os.WriteFile(filepath.Join(dir, "2024", "08", "b.jsonl"), []byte(attachRole+"\n{\"broken\"\n"+`{"eventName":"X"}`+"\n"+badTime+"\n"), 0o600)
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
		// read = sent + invalid before sending; sent = answered + unanswered;
		// the last progress line and the summary agree.
		"replay: done: 5 records read, 4 sent, 4 answered in ",
		"replayed 5 records from 2 inputs to " + addr + ": 4 sent, 4 answered, 0 unanswered; " +
			"1 clean, 1 findings, 0 suppressed, 0 duplicates, 3 invalid (1 before sending)",
		"findings: admin-policy-attached CRITICAL",
		"invalid: not_json", // found by the local reader
		// found by the server, grouped by code, the message as it sent it
		"invalid: missing_field eventSource", "e.g. record is missing eventSource",
		"invalid: bad_event_time eventTime", `e.g. eventTime "2024-08-01 13:20:00Z" is not RFC 3339`,
		"skipped: 1 file not named as records", // README.md
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "N-N") {
		t.Errorf("invalid reasons must not be mangled:\n%s", errs)
	}
	// scan groups the same records the same way.
	_, _, scanErrs := runCLI(t, "", "scan", dir)
	if got, want := invalidLines(errs), invalidLines(scanErrs); got != want {
		t.Errorf("replay's invalid lines\n%s\ndiffer from scan's\n%s", got, want)
	}
	// Again: the server has seen every event id, and its DUPLICATE
	// verdicts carry the original finding, which this run prints.
	code, out, errs = runCLI(t, "", "replay", "--addr", addr, "--progress", "off", "--format", "text", dir)
	if code != cli.ExitOK || strings.Count(out, "admin-policy-attached  a1") != 1 || !strings.Contains(errs, "0 clean, 0 findings, 0 suppressed, 2 duplicates") {
		t.Errorf("second replay: exit %d, stdout %q; want 2 duplicates and the finding printed once:\n%s", code, out, errs)
	}
}

// TestReplayRerunPrintsEveryFindingOnce reruns replay after a run that
// was killed part way (the server scored the first records, the run's
// output is lost): the rerun prints every finding exactly once, those
// of records answered DUPLICATE included, also when an input repeats a
// record.
func TestReplayRerunPrintsEveryFindingOnce(t *testing.T) {
	addr := startServer(t)
	var all []string
	for i := range 30 {
		all = append(all, strings.Replace(attachRole, `"eventID":"a1"`, fmt.Sprintf(`"eventID":"rerun-%02d"`, i), 1))
	}
	killed := writeFile(t, "killed.jsonl", strings.Join(all[:10], "\n"))
	if code, _, errs := runCLI(t, "", "replay", "--addr", addr, "--progress", "off", killed); code != cli.ExitOK {
		t.Fatalf("first run: exit %d:\n%s", code, errs)
	}
	rerun := writeFile(t, "rerun.jsonl", strings.Join(append(all, all[3]), "\n"))
	code, out, errs := runCLI(t, "", "replay", "--addr", addr, "--progress", "off", "--batch", "4", rerun)
	if code != cli.ExitOK {
		t.Fatalf("rerun: exit %d:\n%s", code, errs)
	}
	printed := map[string]int{}
	for line := range strings.Lines(out) {
		var f map[string]any
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("finding line %q: %v", line, err)
		}
		// By event: the 30 records are one admin grant (one incident)
		// under 30 ids, each raising its finding.
		printed[f["event_id"].(string)]++
	}
	if len(printed) != len(all) {
		t.Errorf("rerun printed findings of %d records, want all %d (duplicates carry theirs):\n%s", len(printed), len(all), errs)
	}
	for k, n := range printed {
		if n != 1 {
			t.Errorf("finding %s printed %d times, want once", k, n)
		}
	}
}

// badTime is a record whose eventTime is neither RFC 3339 nor the zone-less
// SQL export shape: it has a space for the T and a Z.
const badTime = `{"eventID":"t1","eventName":"ListUsers","eventSource":"iam.amazonaws.com","eventTime":"2024-08-01 13:20:00Z","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}}`

// invalidLines returns a summary's "invalid:" lines.
func invalidLines(summary string) string {
	var out []string
	for line := range strings.Lines(summary) {
		if strings.HasPrefix(line, "  invalid: ") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

func TestReplayStdinTextAndLearn(t *testing.T) {
	addr := startServer(t)
	code, out, errs := runCLI(t, createRole+"\n", "replay", "--addr", addr, "--learn", "--progress", "off", "-")
	if code != cli.ExitOK || out != "" || !strings.Contains(errs, "to learn (no findings raised): 1 sent, 1 answered, 0 unanswered; 1 scored") {
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
