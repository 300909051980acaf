package cli_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/internal/cli"
	"github.com/iamsentry/iamsentry/internal/redistest"
)

// Records here are generated, shaped after the Panther rule-test records.
const (
	createRole = `{"eventID":"c1","eventName":"CreateRole","eventSource":"iam.amazonaws.com","eventTime":"2024-08-01T13:00:00Z","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},"requestParameters":{"roleName":"r"}}`
	attachRole = `{"eventID":"a1","eventName":"AttachRolePolicy","eventSource":"iam.amazonaws.com","eventTime":"2024-08-01T13:10:00Z","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},"requestParameters":{"roleName":"r","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}`
)

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = cli.Main(context.Background(), args, cli.Stdio{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestScanFindsInFileOrder(t *testing.T) {
	path := writeFile(t, "trail.json", `{"Records":[`+createRole+`,`+attachRole+`]}`)
	code, out, errs := runCLI(t, "", "scan", path)
	if code != cli.ExitOK {
		t.Fatalf("exit %d, want 0; stderr:\n%s", code, errs)
	}
	var f map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &f); err != nil {
		t.Fatalf("want one finding as one JSON line, got %q: %v", out, err)
	}
	if f["detector_id"] != "admin-policy-attached" || f["severity"] != "CRITICAL" || f["event_id"] != "a1" {
		t.Errorf("finding %v, want admin-policy-attached CRITICAL on a1 (CreateRole came first in the file)", f)
	}
	if !strings.Contains(errs, "scanned 2 records from 1 inputs: 1 clean, 1 findings") {
		t.Errorf("summary missing or wrong:\n%s", errs)
	}
}

func TestScanStdinGzipAndText(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(createRole + "\n" + attachRole + "\n{\"not json\"\n"))
	w.Close()
	code, out, errs := runCLI(t, gz.String(), "scan", "--format", "text", "-")
	if code != cli.ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, errs)
	}
	if !strings.Contains(out, "CRITICAL") || !strings.Contains(out, "admin-policy-attached") || !strings.Contains(out, `role "r"`) {
		t.Errorf("text output lacks the finding:\n%s", out)
	}
	if !strings.Contains(errs, "1 invalid") || !strings.Contains(errs, "not_json") {
		t.Errorf("the broken line must be counted as invalid with its reason:\n%s", errs)
	}
}

func TestScanUnreadableInput(t *testing.T) {
	good := writeFile(t, "good.json", attachRole)
	missing := filepath.Join(t.TempDir(), "missing.json")
	code, out, errs := runCLI(t, "", "scan", missing, good)
	if code != cli.ExitError {
		t.Errorf("exit %d, want %d for an unreadable input", code, cli.ExitError)
	}
	if !strings.Contains(errs, missing) || !strings.Contains(errs, "no such file") {
		t.Errorf("stderr must name the unreadable input:\n%s", errs)
	}
	if !strings.Contains(out, `"event_id":"a1"`) {
		t.Errorf("the readable input must still be scanned:\n%s", out)
	}
}

func TestScanDirectory(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "2024", "08"), 0o755)
	os.WriteFile(filepath.Join(dir, "2024", "08", "a.json"), []byte("["+createRole+"]"), 0o600)
	os.WriteFile(filepath.Join(dir, "2024", "08", "b.json"), []byte(attachRole), 0o600)
	code, out, errs := runCLI(t, "", "scan", dir)
	if code != cli.ExitOK || !strings.Contains(out, `"severity":"CRITICAL"`) {
		t.Errorf("exit %d; a directory is walked in lexical order (a.json before b.json):\n%s\n%s", code, out, errs)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, cli.ExitUsage, "Usage: iamsentry <command>"},
		{"unknown command", []string{"frobnicate"}, cli.ExitUsage, `unknown command "frobnicate"`},
		{"scan without paths", []string{"scan"}, cli.ExitUsage, "Usage: iamsentry scan"},
		{"scan bad format", []string{"scan", "--format", "xml", "-"}, cli.ExitUsage, "Usage: iamsentry scan"},
		{"serve bad flag", []string{"serve", "--nope"}, cli.ExitUsage, "flag provided but not defined: -nope"},
		{"serve stray argument", []string{"serve", "extra"}, cli.ExitUsage, "unexpected arguments"},
		{"serve bad log format", []string{"serve", "--log-format", "xml"}, cli.ExitUsage, "--log-format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, "", tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d with %q; want %d with %q", code, errs, tt.code, tt.want)
			}
		})
	}
}

func TestBadConfigIsAnError(t *testing.T) {
	cfg := writeFile(t, "bad.yaml", "detectors:\n  nope:\n    enabled: true\n")
	for _, cmd := range []string{"scan", "serve"} {
		args := []string{cmd, "--config", cfg}
		if cmd == "scan" {
			args = append(args, "-")
		} else {
			args = append(args, "--listen", "127.0.0.1:0", "--log-format", "text")
		}
		code, _, errs := runCLI(t, "", args...)
		if code != cli.ExitError || !strings.Contains(errs, "unknown detector") || !strings.Contains(errs, "nope") {
			t.Errorf("%s with a bad config: exit %d, stderr %q", cmd, code, errs)
		}
	}
}

func TestServeBadListenAddress(t *testing.T) {
	code, _, errs := runCLI(t, "", "serve", "--listen", "not-an-address", "--log-format", "text")
	if code != cli.ExitError || !strings.Contains(errs, "listen on not-an-address") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "", "version")
	if code != cli.ExitOK || !strings.HasPrefix(out, "iamsentry ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

func TestScanLearnRaisesNothing(t *testing.T) {
	path := writeFile(t, "trail.json", `{"Records":[`+createRole+`,`+attachRole+`]}`)
	code, out, errs := runCLI(t, "", "scan", "--learn", path)
	if code != cli.ExitOK || out != "" {
		t.Fatalf("exit %d, stdout %q; want 0 and no findings", code, out)
	}
	if !strings.Contains(errs, "learned from 2 records from 1 inputs (no findings raised)") {
		t.Errorf("summary:\n%s", errs)
	}
}

func TestScanShowsSuppressedFindings(t *testing.T) {
	cfg := writeFile(t, "iamsentry.yaml", "suppress:\n  - principal: \"arn:aws:iam::*:user/alice\"\n    reason: alice is the platform admin\n")
	path := writeFile(t, "trail.json", `{"Records":[`+createRole+`,`+attachRole+`]}`)
	code, out, errs := runCLI(t, "", "scan", "--config", cfg, "--format", "text", path)
	if code != cli.ExitOK {
		t.Fatalf("exit %d:\n%s", code, errs)
	}
	if !strings.Contains(out, "suppressed by suppress[0]: alice is the platform admin") {
		t.Errorf("suppressed finding not shown with its entry:\n%s", out)
	}
	if !strings.Contains(errs, "0 findings, 1 suppressed") || !strings.Contains(errs, "suppressed: admin-policy-attached suppress[0]") {
		t.Errorf("summary must count the suppressed finding apart:\n%s", errs)
	}
}

func TestScanSeedsRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	// Learn the creation into Redis with one scan, then a second scan (a
	// new process's worth of state: only Redis is shared) sees it.
	first := writeFile(t, "create.json", createRole)
	if code, _, errs := runCLI(t, "", "scan", "--learn", "--redis", srv.URL(), first); code != cli.ExitOK {
		t.Fatalf("learning scan: exit %d\n%s", code, errs)
	}
	second := writeFile(t, "attach.json", attachRole)
	code, out, errs := runCLI(t, "", "scan", "--redis", srv.URL(), second)
	if code != cli.ExitOK {
		t.Fatalf("scan: exit %d\n%s", code, errs)
	}
	if !strings.Contains(out, `"severity":"CRITICAL"`) || !strings.Contains(errs, "state: redis") {
		t.Errorf("the attachment must be CRITICAL from the creation learned into Redis:\n%s\n%s", out, errs)
	}
	// REDIS_URL is the fallback when the flag is absent.
	t.Setenv("REDIS_URL", srv.URL())
	if _, _, errs := runCLI(t, "", "scan", second); !strings.Contains(errs, "state: redis") {
		t.Errorf("REDIS_URL not used:\n%s", errs)
	}
}

func TestScanBadRedisSetting(t *testing.T) {
	code, _, errs := runCLI(t, "", "scan", "--redis", "redis://h:1?colour=red", "-")
	if code != cli.ExitError || !strings.Contains(errs, "colour") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// A directory holds more than records: READMEs, licences, CloudTrail's
// digest files. scan reads the record files (by name, gzip or not, any
// case), says what it skipped, and reads a file named on the command line
// whatever its name.
func TestScanDirectoryReadsRecordFilesOnly(t *testing.T) {
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(attachRole + "\n"))
	zw.Close()
	files := map[string]string{
		"a.json":           "[" + createRole + "]",
		"b/TRAIL.JSONL.GZ": gz.String(),
		"README.md":        "# Notes\n\nnot records\n",
		"b/LICENSE":        "Apache License\n",
		"111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240801T1300Z.json.gz": gz.String(),
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := runCLI(t, "", "scan", dir)
	if code != cli.ExitOK || !strings.Contains(out, `"severity":"CRITICAL"`) {
		t.Fatalf("exit %d; want the CRITICAL finding from a.json then b/TRAIL.JSONL.GZ:\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{
		"scanned 2 records from 2 inputs: 1 clean, 1 findings, 0 suppressed, 0 duplicates, 0 invalid",
		"skipped: 3 files not named as records (.json, .jsonl, .ndjson, each optionally .gz): ",
		filepath.Join(dir, "README.md"), filepath.Join(dir, "b", "LICENSE"), "CloudTrail-Digest",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("summary lacks %q:\n%s", want, errs)
		}
	}

	code, _, errs = runCLI(t, "", "scan", filepath.Join(dir, "README.md"))
	if code != cli.ExitOK || !strings.Contains(errs, "from 1 inputs") || !strings.Contains(errs, "invalid: not_json") || strings.Contains(errs, "skipped") {
		t.Errorf("a file named on the command line must be read whatever its name: exit %d\n%s", code, errs)
	}
}

// commandSummaries reads the command list of `iamsentry help`: name →
// one-line summary.
func commandSummaries(t *testing.T) map[string]string {
	t.Helper()
	code, _, errs := runCLI(t, "", "help")
	if code != cli.ExitOK {
		t.Fatalf("help: exit %d", code)
	}
	_, list, ok := strings.Cut(errs, "Commands:\n")
	if !ok {
		t.Fatalf("help lists no commands:\n%s", errs)
	}
	out := map[string]string{}
	for line := range strings.Lines(list) {
		if !strings.HasPrefix(line, "  ") {
			break
		}
		name, summary, _ := strings.Cut(strings.TrimSpace(line), " ")
		out[name] = strings.TrimSpace(summary)
	}
	return out
}

// Every command's -h has one form: the usage line, the summary the command
// list shows (as a sentence), then the flags; never Go's "Usage of x:".
// `config -h` shows its one sub-command's help, so both are checked.
func TestEveryCommandHelpHasOneForm(t *testing.T) {
	summaries := commandSummaries(t)
	if len(summaries) < 6 {
		t.Fatalf("help lists %d commands: %v", len(summaries), summaries)
	}
	summaries["config validate"] = summaries["config"]
	hasFlags := map[string]bool{"serve": true, "scan": true, "replay": true, "health": true}
	for name, summary := range summaries {
		t.Run(name, func(t *testing.T) {
			code, out, errs := runCLI(t, "", append(strings.Fields(name), "-h")...)
			if code != cli.ExitOK || out != "" {
				t.Fatalf("exit %d, stdout %q; want 0 and the help on stderr", code, out)
			}
			paras := strings.Split(errs, "\n\n")
			if !strings.HasPrefix(paras[0], "Usage: iamsentry "+name) || strings.Contains(errs, "Usage of") {
				t.Errorf("help does not start with its usage line:\n%s", errs)
			}
			if want := strings.ToUpper(summary[:1]) + summary[1:] + "."; len(paras) < 2 || paras[1] != want {
				t.Errorf("help's second paragraph must be the summary %q:\n%s", want, errs)
			}
			if got := strings.Contains(errs, "\nFlags:\n"); got != hasFlags[name] {
				t.Errorf("help shows a Flags: section %v, want %v:\n%s", got, hasFlags[name], errs)
			}
		})
	}
}

// The commands that call a server share their connection flags: the same
// names, defaults and words, the address defaulting to where make run
// serves.
func TestClientCommandsShareConnectionFlags(t *testing.T) {
	flagsOf := func(cmd string) map[string]string {
		t.Helper()
		_, _, errs := runCLI(t, "", cmd, "-h")
		_, list, _ := strings.Cut(errs, "Flags:\n")
		out := map[string]string{}
		var name string
		for line := range strings.Lines(list) {
			if after, ok := strings.CutPrefix(line, "  -"); ok {
				name, _, _ = strings.Cut(strings.TrimSpace(after), " ")
			}
			out[name] += line
		}
		return out
	}
	replay, health := flagsOf("replay"), flagsOf("health")
	for _, name := range []string{"addr", "tls", "tls-ca-file", "tls-cert-file", "tls-key-file", "tls-server-name", "token", "token-file", "token-over-plaintext"} {
		if replay[name] == "" || replay[name] != health[name] {
			t.Errorf("--%s differs between replay and health:\n%s\n%s", name, replay[name], health[name])
		}
	}
	if !strings.Contains(health["addr"], `(default "localhost:50051")`) {
		t.Errorf("--addr must default to localhost:50051:\n%s", health["addr"])
	}
	t.Setenv("IAMSENTRY_TOKEN", "secret-from-env")
	if _, _, errs := runCLI(t, "", "replay", "-h"); strings.Contains(errs, "secret-from-env") {
		t.Errorf("replay -h prints the token from the environment:\n%s", errs)
	}
}
