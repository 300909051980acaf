package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/clients/fluentbit/internal/plugin"
	"github.com/iamsentry/iamsentry/clients/iamsentry"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/state/memory"
)

// Records here are generated, shaped after the Panther rule-test records.
const (
	createRole = `{"eventVersion":"1.08","eventID":"c1","eventName":"CreateRole","eventSource":"iam.amazonaws.com","eventTime":"2024-08-01T13:00:00Z","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},"requestParameters":{"roleName":"r"}}`
	attachRole = `{"eventVersion":"1.08","eventID":"a1","eventName":"AttachRolePolicy","eventSource":"iam.amazonaws.com","eventTime":"2024-08-01T13:10:00Z","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},"requestParameters":{"roleName":"r","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}`
)

// parsed returns a record as a parser (or the S3 input) would hand it to
// Fluent Bit: a map, strings and all.
func parsed(t *testing.T, record string) map[string]interface{} {
	t.Helper()
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(record), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDecodeShapes(t *testing.T) {
	data := chunk(t,
		event(map[string]interface{}{"log": createRole}),
		eventV2(parsed(t, attachRole)),
		[]interface{}{uint64(at.Unix()), map[string]interface{}{"Records": []interface{}{parsed(t, createRole)}}},
		[]interface{}{uint64(at.Unix()), "not a map"},
	)
	entries, skipped, err := plugin.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || len(skipped) != 1 {
		t.Fatalf("%d entries and %d skipped, want 3 and the body that is not a map", len(entries), len(skipped))
	}
	if !entries[0].Time.Equal(at) || !entries[1].Time.Equal(at) || entries[2].Time.Unix() != at.Unix() {
		t.Errorf("times %v %v %v, want %v (EventTime, EventTime in a v2 envelope, integer seconds)", entries[0].Time, entries[1].Time, entries[2].Time, at)
	}
	for i, e := range entries {
		for k, v := range e.Body {
			if _, ok := v.([]byte); !ok && k == "log" {
				t.Errorf("entry %d: %q is %T; Fluent Bit strings decode as []byte and the plugin must expect that", i, k, v)
			}
		}
	}
	if _, _, err := plugin.Decode([]byte{0xc1}); err == nil {
		t.Error("a chunk that is not msgpack decoded without error")
	}
}

func TestRecordsFromBodies(t *testing.T) {
	ids := func(recs [][]byte) string {
		var out []string
		for _, r := range recs {
			var m map[string]interface{}
			if err := json.Unmarshal(r, &m); err != nil {
				out = append(out, "raw:"+string(r))
				continue
			}
			out = append(out, fmt.Sprint(m["eventID"]))
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name     string
		body     interface{}
		want     string
		problems int
	}{
		{"in_tail line without parser", event(map[string]interface{}{"log": createRole}), "c1", 0},
		{"message key", event(map[string]interface{}{"message": attachRole}), "a1", 0},
		{"line holding an S3 file", event(map[string]interface{}{"log": `{"Records":[` + createRole + `,` + attachRole + `]}`}), "c1,a1", 0},
		{"broken line goes to the server to count", event(map[string]interface{}{"log": `{"eventID":`}), `raw:{"eventID":`, 0},
		{"broken line among JSON lines", event(map[string]interface{}{"log": createRole + "\nuser=bob password=x\n" + attachRole}), "c1,raw:user=bob password=x,a1", 0},
		{"not JSON at all", event(map[string]interface{}{"log": "kernel: eth0 link up"}), "raw:kernel: eth0 link up", 0},
		{"array broken before its first record", event(map[string]interface{}{"log": "[}"}), "raw:[}", 0},
		{"line over the record size limit", event(map[string]interface{}{"log": "x" + strings.Repeat("y", 300<<10)}), "", 1},
		{"parsed record", eventV2(parsed(t, attachRole)), "a1", 0},
		{"S3 envelope", event(map[string]interface{}{"Records": []interface{}{parsed(t, createRole), parsed(t, attachRole)}}), "c1,a1", 0},
		{"record beside a log key", event(map[string]interface{}{"eventID": "x1", "log": "ignored"}), "x1", 0},
		{"anything else goes to the server to judge", event(map[string]interface{}{"cpu": 3}), "<nil>", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entries, _, err := plugin.Decode(chunk(t, tt.body))
			if err != nil || len(entries) != 1 {
				t.Fatalf("decode: %v (%d entries)", err, len(entries))
			}
			recs, problems := plugin.Records(entries[0].Body)
			if got := ids(recs); got != tt.want || len(problems) != tt.problems {
				t.Errorf("records %q with %d problems %v; want %q with %d", got, len(problems), problems, tt.want, tt.problems)
			}
		})
	}
	// Nested maps and byte strings come out as the original JSON.
	entries, _, _ := plugin.Decode(chunk(t, eventV2(parsed(t, attachRole))))
	recs, _ := plugin.Records(entries[0].Body)
	var got, want interface{}
	json.Unmarshal(recs[0], &got)
	json.Unmarshal([]byte(attachRole), &want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("round trip through msgpack changed the record:\n got %v\nwant %v", got, want)
	}
}

// startServer serves iamsentry on a loopback port.
func startServer(t *testing.T, opts server.Options) string {
	t.Helper()
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.GracePeriod = 100 * time.Millisecond
	srv := server.New(engine.New(reg, memory.New(), engine.Options{}), opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	return lis.Addr().String()
}

func newInstance(t *testing.T, cfg plugin.Config) (*plugin.Instance, *bytes.Buffer) {
	t.Helper()
	if cfg.FindingsFile == "" {
		cfg.FindingsFile = filepath.Join(t.TempDir(), "findings.jsonl")
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize, cfg.Window, cfg.Timeout = 100, 4, 30*time.Second
	}
	var logs bytes.Buffer
	in, err := plugin.New(cfg, slog.New(slog.NewTextHandler(&logs, nil)), iamsentry.WithoutTelemetry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(context.Background()) })
	return in, &logs
}

func findingLines(t *testing.T, path string) []map[string]interface{} {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]interface{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if line == "" {
			continue
		}
		var m map[string]interface{}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("findings file line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestFlushScoresAndWritesFindings(t *testing.T) {
	addr := startServer(t, server.Options{})
	findings := filepath.Join(t.TempDir(), "findings.jsonl")
	in, logs := newInstance(t, plugin.Config{Address: addr, FindingsFile: findings})
	data := chunk(t,
		event(map[string]interface{}{"log": createRole}),
		eventV2(parsed(t, attachRole)),
		event(map[string]interface{}{"log": `{"eventName":"NoID"}`}), // INVALID: a verdict, not a retry
	)
	if code := in.Flush(context.Background(), data); code != plugin.OK {
		t.Fatalf("flush: %v, want FLB_OK; log:\n%s", code, logs)
	}
	got := findingLines(t, findings)
	if len(got) != 1 || got[0]["detector_id"] != "admin-policy-attached" || got[0]["event_id"] != "a1" || got[0]["severity"] != "CRITICAL" {
		t.Errorf("findings %v, want the admin-policy-attached finding on a1 as scan prints it", got)
	}
}

// TestFlushSendsUnparseableLines: a line that is not JSON is sent as its
// raw bytes, so the server answers INVALID and counts it
// (iamsentry_records_invalid_total{reason="not_json"}) instead of the line
// vanishing into Fluent Bit's log; the plugin logs the count by reason
// code, never the line, which may hold anything.
func TestFlushSendsUnparseableLines(t *testing.T) {
	const secret = "hunter2-S3CRET"
	addr := startServer(t, server.Options{})
	in, logs := newInstance(t, plugin.Config{Address: addr})
	data := chunk(t,
		event(map[string]interface{}{"log": createRole}),
		event(map[string]interface{}{"log": "user=bob password=" + secret}),
	)
	if code := in.Flush(context.Background(), data); code != plugin.OK {
		t.Fatalf("flush: %v, want FLB_OK; log:\n%s", code, logs)
	}
	if !strings.Contains(logs.String(), "invalid=1") || !strings.Contains(logs.String(), "not_json=1") {
		t.Errorf("rule: an unparseable line reaches the server, which answers INVALID not_json; log:\n%s", logs)
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("rule: the plugin logs no record contents; log:\n%s", logs)
	}
}

func TestFlushCodes(t *testing.T) {
	addr := startServer(t, server.Options{MaxEventsPerRequest: 1})
	good := chunk(t, event(map[string]interface{}{"log": createRole}))
	tests := []struct {
		name string
		cfg  plugin.Config
		data []byte
		want plugin.Code
	}{
		{"server unreachable: retry", plugin.Config{Address: deadAddr(t), BatchSize: 10, Window: 1, Timeout: 300 * time.Millisecond}, good, plugin.Retry},
		{"request refused: error", plugin.Config{Address: addr, BatchSize: 2, Window: 1, Timeout: 30 * time.Second},
			chunk(t, event(map[string]interface{}{"log": createRole}), event(map[string]interface{}{"log": attachRole})), plugin.Error},
		{"not msgpack: error", plugin.Config{Address: addr, BatchSize: 1, Window: 1, Timeout: time.Second}, []byte{0xc1}, plugin.Error},
		{"nothing to send: ok", plugin.Config{Address: deadAddr(t), BatchSize: 1, Window: 1, Timeout: time.Second}, chunk(t, []interface{}{uint64(1), "x"}), plugin.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, logs := newInstance(t, tt.cfg)
			if got := in.Flush(context.Background(), tt.data); got != tt.want {
				t.Errorf("flush: %v, want %v; log:\n%s", got, tt.want, logs)
			}
		})
	}
}

// Fluent Bit's Workers call one instance's flush from several threads.
func TestFlushConcurrentWorkers(t *testing.T) {
	addr := startServer(t, server.Options{})
	findings := filepath.Join(t.TempDir(), "findings.jsonl")
	in, logs := newInstance(t, plugin.Config{Address: addr, FindingsFile: findings})
	const workers = 4
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			role := fmt.Sprintf("r%d", w)
			create := strings.ReplaceAll(strings.ReplaceAll(createRole, `"c1"`, fmt.Sprintf(`"c1-%d"`, w)), `"roleName":"r"`, `"roleName":"`+role+`"`)
			attach := strings.ReplaceAll(strings.ReplaceAll(attachRole, `"a1"`, fmt.Sprintf(`"a1-%d"`, w)), `"roleName":"r"`, `"roleName":"`+role+`"`)
			if code := in.Flush(context.Background(), chunk(t, event(map[string]interface{}{"log": create}), event(map[string]interface{}{"log": attach}))); code != plugin.OK {
				t.Errorf("worker %d: %v", w, code)
			}
		})
	}
	wg.Wait()
	got := findingLines(t, findings)
	seen := map[interface{}]bool{}
	for _, f := range got {
		seen[f["event_id"]] = true
	}
	if len(got) != workers || len(seen) != workers {
		t.Errorf("%d finding lines for %d distinct events, want one per worker (%d); log:\n%s", len(got), len(seen), workers, logs)
	}
}

func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
