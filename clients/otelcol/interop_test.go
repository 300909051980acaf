//go:build interop

package otelcol_test

// The interop test runs a real OpenTelemetry Collector, built with the
// Collector builder from builder.yaml, against the real iamsentry binary:
// `make interop` builds both and runs it (go test -tags interop). It is kept
// out of `make test` because the Collector's first build takes minutes.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
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

	"github.com/iamsentry/iamsentry/internal/pkitest"
)

// repoRoot is the module root, two levels up from this package.
var repoRoot = func() string {
	abs, err := filepath.Abs("../..")
	if err != nil {
		panic(err)
	}
	return abs
}()

var (
	iamsentryBin = filepath.Join(repoRoot, "bin", "iamsentry")
	collectorBin = filepath.Join(repoRoot, "bin", "otelcol-iamsentry")
	// input is real CloudTrail, one record per line (testdata/README.md).
	input = filepath.Join(repoRoot, "clients", "otelcol", "testdata", "cloudtrail.jsonl")
)

// deliveryBound bounds every wait below; on a loaded 2-core machine the
// file is delivered in seconds, so reaching it means something is stuck.
const deliveryBound = 3 * time.Minute

// TestCollectorDeliversEveryRecord ships testdata/cloudtrail.jsonl through
// the Collector (filelog -> batch -> otlp over gRPC, TLS, bearer token), with
// config.yaml as shipped and only paths, endpoint and telemetry overridden,
// to `iamsentry serve`. Every line must be received and scored exactly once
// (counted on the server's /metrics after the Collector has stopped, so
// nothing more can arrive), none invalid, and the findings the sink writes
// must be those `iamsentry scan` finds in the same file.
func TestCollectorDeliversEveryRecord(t *testing.T) {
	needBinaries(t)
	lines, distinct := countRecords(t, input)
	srv := startServe(t)
	col := startCollector(t, srv, srv.tokenFile)

	waitFor(t, "the server to score every record", func() (bool, string) {
		col.mustRun(t)
		m := srv.metrics(t)
		return m.sum("iamsentry_verdicts_total", "") >= lines, fmt.Sprintf("%v\ncollector log:\n%s", m, col.log())
	})
	col.stop(t)

	m := srv.metrics(t)
	t.Logf("records in file %d; received over OTLP %d; verdicts %v", lines,
		m.sum("iamsentry_records_received_total", `path="otlp"`), m.byLabel("iamsentry_verdicts_total", "outcome"))
	if got := m.sum("iamsentry_records_received_total", `path="otlp"`); got != lines {
		t.Errorf("records received over OTLP: %d, want the %d lines of %s", got, lines, input)
	}
	if got := m.sum("iamsentry_verdicts_total", ""); got != lines {
		t.Errorf("verdicts: %d, want one per line (%d): %v", got, lines, m.byLabel("iamsentry_verdicts_total", "outcome"))
	}
	if got := m.sum("iamsentry_verdicts_total", `outcome="INVALID"`); got != 0 {
		t.Errorf("%d records scored INVALID: the Collector changed a record on the way", got)
	}
	if got, want := m.sum("iamsentry_verdicts_total", `outcome="DUPLICATE"`), lines-distinct; got != want {
		t.Errorf("%d DUPLICATE verdicts, want %d (lines less distinct event ids): a record was sent twice", got, want)
	}

	want := scanFindings(t)
	if len(want) == 0 {
		t.Fatalf("scan finds nothing in %s: the test would prove nothing about findings", input)
	}
	var got []string
	waitFor(t, "the findings sink to hold scan's findings", func() (bool, string) {
		got = sinkFindings(t, srv.findings)
		return len(got) >= len(want), fmt.Sprintf("sink %v, scan %v", got, want)
	})
	if !slices.Equal(got, want) {
		t.Errorf("findings through the Collector differ from scan's:\n got %v\nwant %v", got, want)
	}
}

// TestCollectorWrongTokenRefused runs the same Collector with a token the
// server does not know: every export is refused UNAUTHENTICATED (which the
// Collector does not retry) and the server receives no record.
func TestCollectorWrongTokenRefused(t *testing.T) {
	needBinaries(t)
	srv := startServe(t)
	wrong := filepath.Join(t.TempDir(), "token")
	writeFile(t, wrong, "not-the-token")
	col := startCollector(t, srv, wrong)
	waitFor(t, "the Collector to report the refusal", func() (bool, string) {
		col.mustRun(t)
		return strings.Contains(col.log(), "Unauthenticated"), col.log()
	})
	col.stop(t)
	m := srv.metrics(t)
	if got := m.sum("iamsentry_records_received_total", ""); got != 0 {
		t.Errorf("%d records received from a Collector with a wrong token, want 0", got)
	}
	if got := m.sum("iamsentry_verdicts_total", ""); got != 0 {
		t.Errorf("%d records scored from a Collector with a wrong token, want 0", got)
	}
}

// needBinaries fails the test unless make interop built both binaries.
func needBinaries(t *testing.T) {
	t.Helper()
	for _, bin := range []string{iamsentryBin, collectorBin} {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("%v: run `make interop`, which builds bin/iamsentry and bin/otelcol-iamsentry first", err)
		}
	}
}

// countRecords returns the number of lines of path and of distinct event ids.
func countRecords(t *testing.T, path string) (lines, distinct int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		var rec struct {
			EventID string `json:"eventID"`
		}
		if err := json.Unmarshal(line, &rec); err != nil || rec.EventID == "" {
			t.Fatalf("%s:%d: not a CloudTrail record with an eventID (%v)", path, i+1, err)
		}
		ids[rec.EventID] = true
		lines++
	}
	return lines, len(ids)
}

// serveProc is a running `iamsentry serve` with TLS and one bearer token.
type serveProc struct {
	addr, admin string
	caFile      string
	tokenFile   string // the token itself, as the Collector reads it
	findings    string // the JSON-lines file sink
}

func startServe(t *testing.T) *serveProc {
	t.Helper()
	dir := t.TempDir()
	ca := pkitest.NewCA(t, "interop")
	pair := ca.Server("iamsentry")
	s := &serveProc{addr: freeAddr(t), admin: freeAddr(t), caFile: ca.File,
		tokenFile: filepath.Join(dir, "token"), findings: filepath.Join(dir, "findings.jsonl")}

	raw := make([]byte, 32)
	rand.Read(raw)
	token := hex.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	tokens := filepath.Join(dir, "tokens.yaml")
	cfg := filepath.Join(dir, "iamsentry.yaml")
	writeFile(t, s.tokenFile, token)
	writeFile(t, tokens, "tokens:\n  "+hex.EncodeToString(sum[:])+": interop\n")
	writeFile(t, cfg, "sinks:\n  - type: file\n    path: "+s.findings+"\n")

	start(t, "serve", exec.Command(iamsentryBin, "serve", "--listen", s.addr, "--admin-listen", s.admin,
		"--tls-cert", pair.CertFile, "--tls-key", pair.KeyFile, "--tokens", tokens,
		"--config", cfg, "--log-format", "json"))
	waitFor(t, "serve to be ready", func() (bool, string) {
		resp, err := http.Get("http://" + s.admin + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return s
}

// startCollector runs the Collector on config.yaml as shipped, merged with
// an override that points it at the test's file, server, CA and token, and
// turns its own telemetry off (its default port, 8888, may be taken).
func startCollector(t *testing.T, s *serveProc, tokenFile string) *process {
	t.Helper()
	override := filepath.Join(t.TempDir(), "override.yaml")
	writeFile(t, override, fmt.Sprintf(`extensions:
  bearertokenauth/iamsentry:
    filename: %q
receivers:
  filelog/cloudtrail:
    include: [%q]
exporters:
  otlp/iamsentry:
    endpoint: %q
    tls:
      ca_file: %q
service:
  telemetry:
    metrics:
      level: none
`, tokenFile, input, "dns:///"+s.addr, s.caFile))
	return start(t, "collector", exec.Command(collectorBin,
		"--config", "file:"+filepath.Join(repoRoot, "clients", "otelcol", "config.yaml"), "--config", "file:"+override))
}

// scanFindings returns "detector event-id" for each finding `iamsentry scan`
// prints for the input file, sorted.
func scanFindings(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command(iamsentryBin, "scan", input)
	cmd.Env = append(os.Environ(), "IAMSENTRY_GEOIP_DIR=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scan: %v\n%s", err, stderr.String())
	}
	var ids []string
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var f struct {
			DetectorID string `json:"detector_id"`
			EventID    string `json:"event_id"`
		}
		if err := json.Unmarshal(line, &f); err != nil {
			t.Fatalf("scan printed %q: %v", line, err)
		}
		ids = append(ids, f.DetectorID+" "+f.EventID)
	}
	slices.Sort(ids)
	return ids
}

// sinkFindings returns "detector event-id" for each finding in the file
// sink, sorted; invalid-record notices fail the test.
func sinkFindings(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var item struct {
			Kind    string `json:"kind"`
			Finding struct {
				DetectorID string `json:"detector_id"`
				EventID    string `json:"event_id"`
			} `json:"finding"`
		}
		if err := json.Unmarshal(sc.Bytes(), &item); err != nil || (item.Kind != "finding" && item.Kind != "story") {
			t.Fatalf("findings sink line %q (%v)", sc.Bytes(), err)
		}
		if item.Kind == "story" { // the attack stories the findings form
			continue
		}
		ids = append(ids, item.Finding.DetectorID+" "+item.Finding.EventID)
	}
	slices.Sort(ids)
	return ids
}

// metrics is a Prometheus text exposition: series ("name{labels}") to value.
type metrics map[string]float64

func (s *serveProc) metrics(t *testing.T) metrics {
	t.Helper()
	resp, err := http.Get("http://" + s.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m := metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("/metrics line %q", line)
		}
		m[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// sum adds the series of counter name whose labels contain label ("" for all).
func (m metrics) sum(name, label string) int {
	var total float64
	for series, v := range m {
		if (series == name || strings.HasPrefix(series, name+"{")) && strings.Contains(series, label) {
			total += v
		}
	}
	return int(total)
}

// byLabel returns name's values by the value of one label, for messages.
func (m metrics) byLabel(name, label string) map[string]int {
	out := map[string]int{}
	for series, v := range m {
		if !strings.HasPrefix(series, name+"{") {
			continue
		}
		_, rest, ok := strings.Cut(series, label+`="`)
		if val, _, ok2 := strings.Cut(rest, `"`); ok && ok2 {
			out[val] += int(v)
		}
	}
	return out
}

func (m metrics) String() string {
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	for _, k := range keys {
		if strings.HasPrefix(k, "iamsentry_") {
			fmt.Fprintf(&b, "%s %v\n", k, m[k])
		}
	}
	return b.String()
}

// process is a started command whose stderr is kept for failure messages.
type process struct {
	name   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan error
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.Write(b)
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// start starts cmd and kills it at the end of the test if it still runs.
func start(t *testing.T, name string, cmd *exec.Cmd) *process {
	t.Helper()
	p := &process{name: name, cmd: cmd, exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p, p
	cmd.Env = append(os.Environ(), "IAMSENTRY_GEOIP_DIR=off")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("%s log:\n%s", name, p.log())
		}
	})
	return p
}

// mustRun fails the test if the process has exited.
func (p *process) mustRun(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err // for the cleanup
		t.Fatalf("%s exited early: %v\n%s", p.name, err, p.log())
	default:
	}
}

// stop sends SIGTERM, on which the Collector drains its queue and exits 0.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		p.exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("%s exited: %v\n%s", p.name, err, p.log())
		}
	case <-time.After(deliveryBound):
		t.Fatalf("%s did not stop on SIGTERM\n%s", p.name, p.log())
	}
}

// waitFor polls cond until it holds, failing the test with cond's last
// message after deliveryBound.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deliveryBound)
	defer cancel()
	for {
		ok, msg := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s after %v:\n%s", what, deliveryBound, msg)
		case <-time.After(100 * time.Millisecond):
		}
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

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
