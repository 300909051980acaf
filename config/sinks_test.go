package config_test

import (
	"os"
	"path/filepath"
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
		hook.MinSeverity != detectors.SeverityHigh || hook.Headers["Authorization"] == "" || len(hook.Detectors) != 2 {
		t.Errorf("webhook sink %+v", hook)
	}
}

// TestSinksErrors has one case per sink validation error, each with the
// key, its line and a fragment of the reason.
func TestSinksErrors(t *testing.T) {
	checkErrors(t, []errorCase{
		{"no type", "sinks:\n  - format: json\n", 2, "sinks[0].type", "required"},
		{"unknown type", "sinks:\n  - type: kafka\n", 2, "sinks[0].type", `"kafka" is not a sink type`},
		{"bad format", "sinks:\n  - type: stdout\n    format: cef\n", 3, "sinks[0].format", `"cef" is not a format (want json or ocsf)`},
		{"file sans path", "sinks:\n  - type: file\n", 2, "sinks[0].path", "required for type file"},
		{"webhook url", "sinks:\n  - type: stdout\n  - type: webhook\n    url: ftp://x\n", 4, "sinks[1].url", `"ftp://x" is not an http:// or https:// URL`},
		{"webhook sans url", "sinks:\n  - type: webhook\n", 2, "sinks[0].url", "required for type webhook"},
		{"url of another type", "sinks:\n  - type: stdout\n    url: https://x\n", 3, "sinks[0].url", "only for type webhook"},
		{"path of another type", "sinks:\n  - type: webhook\n    url: https://x\n    path: /tmp/x\n", 4, "sinks[0].path", "only for type file"},
		{"timeout of another type", "sinks:\n  - type: file\n    path: /tmp/x\n    timeout: 1s\n", 4, "sinks[0].timeout", "only for type webhook"},
		{"timeout not a duration", "sinks:\n  - type: webhook\n    url: https://x\n    timeout: soon\n", 4, "sinks[0].timeout", `"soon" is not a duration`},
		{"negative timeout", "sinks:\n  - type: webhook\n    url: https://x\n    timeout: -1s\n", 4, "sinks[0].timeout", "-1s is negative"},
		{"negative queue", "sinks:\n  - type: webhook\n    url: https://x\n    queue_size: -1\n", 4, "sinks[0].queue_size", "-1 is negative"},
		{"negative attempts", "sinks:\n  - type: webhook\n    url: https://x\n    max_attempts: -2\n", 4, "sinks[0].max_attempts", "-2 is negative"},
		{"attempts not a number", "sinks:\n  - type: webhook\n    url: https://x\n    max_attempts: many\n", 4, "sinks[0].max_attempts", `"many" is not a whole number`},
		{"bad min_severity", "sinks:\n  - type: stdout\n    min_severity: urgent\n", 3, "sinks[0].min_severity", `"urgent" is not a severity (want INFO, LOW, MEDIUM, HIGH or CRITICAL)`},
		{"unknown detector", "sinks:\n  - type: stdout\n    detectors:\n      - admin-policy-attached\n      - nope\n", 5, "sinks[0].detectors[1]", `unknown detector "nope"`},
		{"headers not a mapping", "sinks:\n  - type: webhook\n    url: https://x\n    headers: [a]\n", 4, "sinks[0].headers", "want a mapping, not a list"},
		{"unknown key", "sinks:\n  - type: stdout\n    colour: red\n", 3, "sinks[0].colour", "unknown key (known: type, format, path, url, headers, timeout, queue_size, max_attempts, min_severity, detectors, include_suppressed)"},
	})
}
