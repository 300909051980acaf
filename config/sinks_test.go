package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
)

func TestSinksExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "deploy", "sinks.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := config.ParseAndBuild(doc, builtin.Specs())
	if err != nil {
		t.Fatalf("deploy/sinks.example.yaml rejected: %v", err)
	}
	if len(b.Sinks) != 3 {
		t.Fatalf("%d sinks, want 3", len(b.Sinks))
	}
	std, file, hook := b.Sinks[0], b.Sinks[1], b.Sinks[2]
	if std.Type != config.SinkStdout || std.Format != "json" {
		t.Errorf("stdout sink %+v", std)
	}
	if file.Type != config.SinkFile || file.Format != "ocsf" || file.MinSeverity != detectors.SeverityMedium || file.Path == "" {
		t.Errorf("file sink %+v", file)
	}
	if hook.Type != config.SinkWebhook || hook.Timeout != 10*time.Second || hook.QueueSize != 1000 || hook.MaxAttempts != 5 ||
		hook.Headers["Authorization"] == "" || len(hook.Detectors) != 2 || hook.Entry != 2 {
		t.Errorf("webhook sink %+v", hook)
	}
}

func TestSinksErrors(t *testing.T) {
	for name, tt := range map[string]struct {
		doc  string
		want []string // every fragment must appear in the error
	}{
		"no type":        {"sinks:\n  - format: json\n", []string{"sinks[0].type: required"}},
		"unknown type":   {"sinks:\n  - type: kafka\n", []string{`sinks[0].type: "kafka" is not a sink type`}},
		"bad format":     {"sinks:\n  - type: stdout\n    format: cef\n", []string{`sinks[0].format: "cef"`}},
		"file sans path": {"sinks:\n  - type: file\n", []string{"sinks[0].path: required for type file"}},
		"webhook url": {"sinks:\n  - type: stdout\n  - type: webhook\n    url: ftp://x\n",
			[]string{`sinks[1].url: "ftp://x" is not an http:// or https:// URL`}},
		"webhook sans url": {"sinks:\n  - type: webhook\n", []string{"sinks[0].url: required for type webhook"}},
		"keys of another type": {"sinks:\n  - type: stdout\n    url: https://x\n    path: /tmp/x\n    timeout: 1s\n",
			[]string{"sinks[0].url: only for type webhook", "sinks[0].path: only for type file", "sinks[0].timeout: only for type webhook"}},
		"bad values": {"sinks:\n  - type: webhook\n    url: https://x\n    timeout: soon\n    queue_size: -1\n    max_attempts: -2\n    min_severity: urgent\n    detectors: [nope]\n",
			[]string{`sinks[0].timeout: "soon"`, "sinks[0].queue_size: -1", "sinks[0].max_attempts: -2", `sinks[0].min_severity: "urgent"`, `sinks[0].detectors[0]: unknown detector "nope"`}},
		"unknown key": {"sinks:\n  - type: stdout\n    colour: red\n", []string{"line 3: sinks[0].colour: unknown key"}},
	} {
		_, err := config.ParseAndBuild([]byte(tt.doc), builtin.Specs())
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", name, err, w)
			}
		}
	}
}
