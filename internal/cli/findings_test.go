package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server/findings"
)

// TestOpenSinks checks that each sinks entry runs as the file describes it:
// its type, format and filter.
func TestOpenSinks(t *testing.T) {
	var mu sync.Mutex
	var posted []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posted = append(posted, string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "findings.ocsf.jsonl")
	doc := "sinks:\n" +
		"  - type: stdout\n" +
		"  - type: file\n    path: " + path + "\n    format: ocsf\n    min_severity: HIGH\n" +
		"  - type: webhook\n    url: " + srv.URL + "\n    detectors: [" + builtin.AdminPolicyAttachedID + "]\n    include_suppressed: true\n"
	b, err := config.ParseAndBuild([]byte(doc), builtin.Specs())
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	sinks, err := openSinks(b.Sinks, &stdout, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	send := func(detector string, sev iamsentryv1.Severity, suppressed bool) {
		f := &iamsentryv1.Finding{DetectorId: detector, Severity: sev, EventId: detector + "/" + sev.String()}
		if suppressed {
			f.Suppression = &iamsentryv1.Suppression{Reason: "r"}
		}
		for _, s := range sinks {
			s.Send(findings.Item{Finding: f})
		}
	}
	send(builtin.AdminPolicyAttachedID, iamsentryv1.Severity_SEVERITY_HIGH, false)
	send(builtin.AccessKeyNewLocationID, iamsentryv1.Severity_SEVERITY_LOW, false)
	send(builtin.AdminPolicyAttachedID, iamsentryv1.Severity_SEVERITY_MEDIUM, true)
	for _, s := range sinks {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	}

	if n := strings.Count(stdout.String(), `"kind":"finding"`); n != 2 {
		t.Errorf("stdout (json, unsuppressed) wrote %d findings, want 2:\n%s", n, stdout.String())
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(file), "\n"); n != 1 || !strings.Contains(string(file), `"class_uid":2004`) {
		t.Errorf("file (ocsf, HIGH and up) holds %d lines, want 1 OCSF finding:\n%s", n, file)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posted) != 2 || strings.Contains(strings.Join(posted, ""), builtin.AccessKeyNewLocationID) {
		t.Errorf("webhook (admin-policy-attached, suppressed too) got %d posts, want 2: %q", len(posted), posted)
	}
}

func TestOpenSinksFails(t *testing.T) {
	sinks := []config.Sink{{Type: config.SinkStdout}, {Type: config.SinkFile, Path: filepath.Join(t.TempDir(), "missing", "f.jsonl")}}
	_, err := openSinks(sinks, io.Discard, slog.New(slog.DiscardHandler))
	if err == nil || !strings.HasPrefix(err.Error(), "opening findings sink sinks[1] (file): open ") {
		t.Errorf("err = %v, want it to name the entry, then a colon and the cause", err)
	}
}
