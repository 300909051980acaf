package e2e_test

// The documentation's command examples, kept true by running them.
//
// README.md: every command of its ```sh blocks is run here, in the order the
// README gives them, or TestReadmeCommandsKnown fails naming it. Only two are
// not executed here, because they are run elsewhere: `make run` is what
// startMakeRun starts for every end-to-end test of this package (the servers
// these commands talk to), and `make test` is what runs this test (CI runs it
// through .ci/run). README code blocks must say their language, so a command
// cannot hide in an unlabelled block.
//
// docs/*.md: every grpcurl example is run against a server started by
// `make run`, after the setup the README documents (`make tools`, then the
// `export` lines), and must print what grpcurlExamples expects. Other commands
// in docs/ (docker, kubectl, flags of deployed binaries) are not run.

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/trail/trailtest"
)

// docCommand is one shell command of a ```sh block.
type docCommand struct {
	page string // relative to the repository root
	line int
	text string // as written: continuation lines and heredoc body included
	key  string // on one line: continuations joined, heredoc body and comment dropped
}

func (c docCommand) String() string { return fmt.Sprintf("%s:%d: %s", c.page, c.line, c.key) }

// name is a subtest name: where the command is and how it starts.
func (c docCommand) name() string {
	key := c.key
	if r := []rune(key); len(r) > 60 {
		key = string(r[:60]) + "…"
	}
	return fmt.Sprintf("%s:%d %s", c.page, c.line, key)
}

// session is what the README's commands share, as a reader's terminal would.
type session struct {
	prelude    []string // the README's export lines, in order, run before each later command
	replayAddr string   // a `make run` server for replay (the README's "another terminal")
	grpcAddr   string   // a fresh `make run` server for the grpcurl examples
}

// readmeCommand says how one README command is run. pattern matches the
// command's key; every README command must match exactly one entry (or be
// a grpcurl example).
type readmeCommand struct {
	pattern *regexp.Regexp
	run     func(t *testing.T, s *session, c docCommand)
}

var readmeCommands = []readmeCommand{
	{regexp.MustCompile(`^make (run|test)$`), func(t *testing.T, _ *session, c docCommand) {
		t.Logf("%s: run elsewhere: make run by startMakeRun in every test of this package, make test by CI (.ci/run)", c.key)
	}},
	{regexp.MustCompile(`^make help$`), func(t *testing.T, s *session, c docCommand) {
		wantAll(t, c, mustRun(t, s, c.text, time.Minute), "build", "test", "tools")
	}},
	{regexp.MustCompile(`^make build$`), func(t *testing.T, s *session, c docCommand) {
		mustRun(t, s, c.text, 15*time.Minute)
		mustExist(t, filepath.Join(repoRoot, "bin", "iamsentry"))
	}},
	{regexp.MustCompile(`^make tools$`), func(t *testing.T, s *session, c docCommand) {
		mustRun(t, s, c.text, 15*time.Minute) // builds grpcurl: over a minute with a cold cache
		mustExist(t, filepath.Join(repoRoot, "bin", "grpcurl"))
	}},
	{regexp.MustCompile(`^export [A-Z_]+=`), func(t *testing.T, s *session, c docCommand) {
		mustRun(t, s, c.text, time.Minute)
		s.prelude = append(s.prelude, c.text)
	}},
	{regexp.MustCompile(`^bin/iamsentry scan examples/$`), func(t *testing.T, s *session, c docCommand) {
		out := mustRun(t, s, c.text, 2*time.Minute)
		wantAll(t, c, out, `"detector_id":"`, "scanned ")
	}},
	{regexp.MustCompile(`^bin/iamsentry replay examples/$`), func(t *testing.T, s *session, c docCommand) {
		out := mustRun(t, s, withAddr(c.text, s.replayAddr), 2*time.Minute)
		wantAll(t, c, out, `"detector_id":"`)
	}},
	// bin/iamsentry scan --since … s3://my-trail-bucket/: the test cannot
	// reach S3, so an S3-compatible server on loopback (gofakes3) holds an
	// organisation trail of the repository's CloudTrail test files, in the
	// README's date range, and AWS_ENDPOINT_URL_S3 points the SDK at it.
	{regexp.MustCompile(`^bin/iamsentry scan --since \S+ --until \S+ s3://my-trail-bucket/$`), func(t *testing.T, s *session, c docCommand) {
		srv := trailtest.Start(t)
		objects, _ := trailtest.OrgTrail(t)
		srv.Put(t, "my-trail-bucket", objects)
		script := "export AWS_ENDPOINT_URL_S3=" + shellQuote(srv.Endpoint) + "\n" + c.text
		out := mustRun(t, s, script, 2*time.Minute)
		wantAll(t, c, out, `"detector_id":"`, "objects (", "scanned ")
	}},
	// aws s3 cp s3://…/x.json.gz - | bin/iamsentry replay - (or scan -). The
	// test cannot reach S3, so a stand-in `aws` prints a gzip CloudTrail
	// delivery file, as `aws s3 cp … -` does; the rest runs as written.
	{regexp.MustCompile(`^aws s3 cp s3://\S+\.json\.gz - \| bin/iamsentry (replay|scan) -$`), func(t *testing.T, s *session, c docCommand) {
		stub := fakeAWS(t)
		script := "export PATH=" + shellQuote(stub) + `:"$PATH"` + "\n" + withAddr(c.text, s.replayAddr)
		out := mustRun(t, s, script, 2*time.Minute)
		wantAll(t, c, out, `"detector_id":"admin-policy-attached"`, "s3-stand-in-0001")
	}},
}

// grpcurlExample says what a grpcurl example must print, keyed by a
// fragment of its command. Every grpcurl example in README.md and docs/*.md
// must match exactly one key, and every key must be matched by an example,
// so an example can neither go untested nor disappear unnoticed.
type grpcurlExample struct {
	want []string
	// wrap, when set, turns the example into the script to run (for
	// examples that do not end by themselves).
	wrap func(example, addr string) string
}

var grpcurlExamples = map[string]grpcurlExample{
	" list": {want: []string{"iamsentry.v1.DetectionService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"}},
	"describe iamsentry.v1": {want: []string{"rpc Score ( stream .iamsentry.v1.ScoreRequest ) returns ( stream .iamsentry.v1.ScoreResponse )",
		"rpc ScoreBatch", "rpc ListDetectors"}},
	"grpc.health.v1.Health":          {want: []string{`"status": "SERVING"`}},
	"DetectionService/ListDetectors": {want: []string{`"id": "admin-policy-attached"`, `"enabled": true`, `"T1098"`}},
	"DetectionService/ScoreBatch": {want: []string{`"outcome": "OUTCOME_ALERT"`, `"detectorId": "admin-policy-attached"`, `"severity": "SEVERITY_HIGH"`,
		`"eventId": "3f1c0a52-8e5b-4f47-9a43-5b0c2f6c1d11"`, `"target_name": "backdoor"`, `"T1098"`}},
	"DetectionService/Score <": {want: []string{`"detectorId": "offensive-tooling"`, `"outcome": "OUTCOME_ALERT"`, `"outcome": "OUTCOME_INVALID"`,
		`"sequence": "2"`, "record is not JSON"}},
	// Watch examples, by what they ask for: findings (and stories), HIGH
	// findings only, stories only.
	`WATCH_CONTENT_FINDINGS_AND_STORIES"}' localhost:50051 iamsentry.v1.DetectionService/Watch`: {
		want: []string{`"detectorId": "admin-policy-attached"`, `"eventId": "watch-probe-`}, wrap: watchScript},
	`{"min_severity":"SEVERITY_HIGH"}' localhost:50051 iamsentry.v1.DetectionService/Watch`: {
		want: []string{`"detectorId": "admin-policy-attached"`, `"eventId": "watch-probe-`}, wrap: watchScript},
	// A stories-only watcher sees the story each probe's new attacker
	// starts (one stage: LOW) and no finding.
	`{"content":"WATCH_CONTENT_STORIES"}' localhost:50051 iamsentry.v1.DetectionService/Watch`: {want: []string{`"story": {`, `"summary": "`, `watch-probe-`}, wrap: watchScript},
}

// watchScript runs a Watch example in the background and scores records
// that raise a HIGH finding until the watcher has printed one (or, for a
// stories watcher, a story update): Watch tails what is raised from the
// moment it is connected, so the first probes may come too early. Each
// probe is a new event of a new attacker (the shell's pid and a counter),
// so no probe is a duplicate of another example's and each starts a story.
func watchScript(example, addr string) string {
	return `out=$(mktemp)
trap 'rm -f "$out"' EXIT
( exec ` + example + ` ) >"$out" 2>&1 &
watcher=$!
for i in $(seq 1 40); do
  id="$$0$i"
  grpcurl -plaintext -d "$(printf '` + watchProbe + `' "$id" "$id" "$id" "$id")" ` + addr + ` iamsentry.v1.DetectionService/ScoreBatch >/dev/null
  sleep 0.5
  if grep -q -e '"detectorId": "admin-policy-attached"' -e '"story": {' "$out"; then sleep 0.5; break; fi
done
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
cat "$out"
`
}

// watchProbe is a ScoreBatch request whose record attaches
// AdministratorAccess (a HIGH admin-policy-attached finding); its four %s
// are filled with one number, so every probe is a new event by a new user
// with a new key.
const watchProbe = `{"events":[{"object":{"eventVersion":"1.08","eventID":"watch-probe-%s","eventTime":"2024-08-02T09:00:00Z",` +
	`"eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.20",` +
	`"userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLEWATCH%s","arn":"arn:aws:iam::111122223333:user/watch-probe-%s",` +
	`"accountId":"111122223333","accessKeyId":"AKIAWATCH%s","userName":"watch-probe"},` +
	`"requestParameters":{"userName":"watch-target","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"},` +
	`"recipientAccountId":"111122223333"}}]}`

// TestReadmeCommandsKnown fails for a README command no test runs, a README
// code block in a language other than sh, yaml or text (or none), a grpcurl
// example (README or docs) without exactly one expectation, and an
// expectation without an example. It starts nothing, so it runs with -short.
func TestReadmeCommandsKnown(t *testing.T) {
	checkFenceLanguages(t, "README.md")
	for _, c := range docCommandsOf(t, "README.md") {
		if isGrpcurl(c) {
			continue // judged below with the docs' examples
		}
		if n := len(readmeMatches(c)); n != 1 {
			t.Errorf("%v: matches %d entries of readmeCommands in internal/e2e/readme_test.go; every README command must be run by a test: give it exactly one", c, n)
		}
	}
	used := map[string]int{}
	for _, c := range grpcurlCommands(t) {
		keys := grpcurlKeys(c)
		if len(keys) != 1 {
			t.Errorf("%v: matches %d keys of grpcurlExamples (%v); give it exactly one", c, len(keys), keys)
			continue
		}
		used[keys[0]]++
		if !strings.Contains(c.text, "localhost:50051") {
			t.Errorf("%v: a grpcurl example must address localhost:50051 (the test points it at its own server)", c)
		}
	}
	for key := range grpcurlExamples {
		if used[key] == 0 {
			t.Errorf("no grpcurl example in README.md or docs/*.md matches %q: an example was lost, or its expectation is stale", key)
		}
	}
}

// TestReadmeAndDocsExamples runs every README command in order (as a reader
// would in one terminal, with `make run` in another) and every grpcurl
// example of docs/*.md.
func TestReadmeAndDocsExamples(t *testing.T) {
	skipShort(t)
	_, replayAddr := startMakeRun(t)
	_, grpcAddr := startMakeRun(t)
	s := &session{replayAddr: replayAddr, grpcAddr: grpcAddr}
	for _, c := range docCommandsOf(t, "README.md") {
		t.Run(c.name(), func(t *testing.T) {
			if isGrpcurl(c) {
				runGrpcurl(t, s, c)
				return
			}
			m := readmeMatches(c)
			if len(m) != 1 {
				t.Fatalf("no single way to run it (TestReadmeCommandsKnown says more)")
			}
			m[0].run(t, s, c)
		})
	}
	for _, c := range grpcurlCommands(t) {
		if c.page == "README.md" {
			continue // run above, in the README's order
		}
		t.Run(c.name(), func(t *testing.T) { runGrpcurl(t, s, c) })
	}
}

func runGrpcurl(t *testing.T, s *session, c docCommand) {
	keys := grpcurlKeys(c)
	if len(keys) != 1 {
		t.Fatalf("matches %d keys of grpcurlExamples", len(keys))
	}
	ex := grpcurlExamples[keys[0]]
	script := strings.ReplaceAll(c.text, "localhost:50051", s.grpcAddr)
	if ex.wrap != nil {
		script = ex.wrap(script, s.grpcAddr)
	}
	out := mustRun(t, s, script, 2*time.Minute)
	wantAll(t, c, out, ex.want...)
}

func isGrpcurl(c docCommand) bool { return strings.HasPrefix(c.key, "grpcurl ") }

func readmeMatches(c docCommand) []readmeCommand {
	var out []readmeCommand
	for _, rc := range readmeCommands {
		if rc.pattern.MatchString(c.key) {
			out = append(out, rc)
		}
	}
	return out
}

func grpcurlKeys(c docCommand) []string {
	var keys []string
	for key := range grpcurlExamples {
		if strings.Contains(c.key, key) {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	return keys
}

// grpcurlCommands returns the grpcurl examples of README.md and docs/*.md.
func grpcurlCommands(t *testing.T) []docCommand {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) == 0 {
		t.Fatal("no docs/*.md pages")
	}
	var out []docCommand
	for _, p := range append([]string{"README.md"}, pages...) {
		if p != "README.md" {
			p = "docs/" + filepath.Base(p)
		}
		for _, c := range docCommandsOf(t, p) {
			if isGrpcurl(c) {
				out = append(out, c)
			}
		}
	}
	return out
}

var (
	fenceLine = regexp.MustCompile("^\\s*```\\s*(\\S*)")
	heredoc   = regexp.MustCompile(`<<-?\s*'?"?([A-Za-z_]+)'?"?`)
)

// allowedReadmeFences are the code block languages README.md may use:
// sh for commands (all run by this test), the others for what is not one.
var allowedReadmeFences = map[string]bool{"sh": true, "yaml": true, "text": true}

func checkFenceLanguages(t *testing.T, page string) {
	t.Helper()
	inFence := false
	for i, l := range strings.Split(readPage(t, page), "\n") {
		m := fenceLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if !inFence && !allowedReadmeFences[m[1]] {
			t.Errorf("%s:%d: a code block of language %q; commands go in ```sh blocks (each run by a test), other text in ```yaml or ```text", page, i+1, m[1])
		}
		inFence = !inFence
	}
}

func readPage(t *testing.T, page string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(page)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// docCommandsOf returns the commands of the ```sh blocks of page, in order.
// Blank lines and comment lines separate nothing; a line ending in a
// backslash continues on the next; a heredoc runs to its delimiter.
func docCommandsOf(t *testing.T, page string) []docCommand {
	t.Helper()
	lines := strings.Split(readPage(t, page), "\n")
	var out []docCommand
	inSh := false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if m := fenceLine.FindStringSubmatch(l); m != nil {
			if inSh {
				inSh = false
			} else if m[1] == "sh" {
				inSh = true
			} else { // skip another language's block
				for i++; i < len(lines) && fenceLine.FindStringSubmatch(lines[i]) == nil; i++ {
				}
			}
			continue
		}
		trimmed := strings.TrimSpace(l)
		if !inSh || trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		c := docCommand{page: page, line: i + 1}
		text, key := []string{l}, []string{stripComment(trimmed)}
		for strings.HasSuffix(lines[i], `\`) && i+1 < len(lines) {
			i++
			text = append(text, lines[i])
			key[len(key)-1] = strings.TrimSpace(strings.TrimSuffix(key[len(key)-1], `\`))
			key = append(key, stripComment(strings.TrimSpace(lines[i])))
		}
		if m := heredoc.FindStringSubmatch(strings.Join(key, " ")); m != nil {
			for i+1 < len(lines) {
				i++
				text = append(text, lines[i])
				if strings.TrimSpace(lines[i]) == m[1] {
					break
				}
			}
		}
		c.text = strings.Join(text, "\n")
		c.key = strings.Join(key, " ")
		out = append(out, c)
	}
	return out
}

// stripComment drops a shell comment: a # outside quotes at the start of a
// word.
func stripComment(l string) string {
	var quote rune
	for i, r := range l {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && (i == 0 || l[i-1] == ' ' || l[i-1] == '\t'):
			return strings.TrimSpace(l[:i])
		}
	}
	return l
}

// withAddr points a `bin/iamsentry replay` command, which defaults to
// localhost:50051, at the test's server.
func withAddr(script, addr string) string {
	return strings.ReplaceAll(script, "bin/iamsentry replay ", "bin/iamsentry replay --addr "+addr+" ")
}

// fakeAWS writes a stand-in `aws` command for `aws s3 cp s3://… -`: it
// prints a gzip S3 delivery file holding one record that raises
// admin-policy-attached, and refuses anything else.
func fakeAWS(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	fmt.Fprint(w, `{"Records":[{"eventVersion":"1.08","eventID":"s3-stand-in-0001","eventTime":"2024-08-01T13:10:00Z",`+
		`"eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.30",`+
		`"userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLES3CP00001","arn":"arn:aws:iam::111122223333:user/s3-reader",`+
		`"accountId":"111122223333","accessKeyId":"AKIAEXAMPLES3CP001","userName":"s3-reader"},`+
		`"requestParameters":{"userName":"s3-target","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"},`+
		`"recipientAccountId":"111122223333"}]}`)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	object := filepath.Join(dir, "object.json.gz")
	if err := os.WriteFile(object, gz.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `#!/usr/bin/env bash
# Stand-in for the AWS CLI in internal/e2e/readme_test.go: aws s3 cp s3://BUCKET/KEY -
set -eu
if [[ $# -eq 4 && $1 == s3 && $2 == cp && $3 == s3://* && $4 == - ]]; then
  exec cat ` + shellQuote(object) + `
fi
echo "stand-in aws: only 'aws s3 cp s3://... -' is supported, got: $*" >&2
exit 2
`
	if err := os.WriteFile(filepath.Join(dir, "aws"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// mustRun runs script with bash in the repository root, after the README
// exports seen so far, and returns its combined output.
func mustRun(t *testing.T, s *session, script string, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	full := strings.Join(append(append([]string{}, s.prelude...), script), "\n")
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", full)
	cmd.Dir = repoRoot
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v (timeout %v)\n--- script:\n%s\n--- output:\n%s", err, timeout, full, out)
	}
	return string(out)
}

func mustExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("after the command: %v", err)
	}
}

func wantAll(t *testing.T, c docCommand, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%v: output lacks %q:\n%s", c, w, out)
		}
	}
}
