package findings_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/types/known/timestamppb"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server/findings"
)

func finding(id string, sev iamsentryv1.Severity) *iamsentryv1.Finding {
	return &iamsentryv1.Finding{
		DetectorId:   "access-key-new-location",
		Severity:     sev,
		Score:        70,
		Title:        "Access key used from a new country",
		Explanation:  "key AKIAEXAMPLE of alice used from BR for the first time",
		Techniques:   []string{"T1078.004", "T1550"},
		AccountId:    "111122223333",
		PrincipalArn: "arn:aws:iam::111122223333:user/alice",
		AccessKeyId:  "AKIAEXAMPLE",
		SourceIp:     "203.0.113.9",
		EventName:    "ListBuckets",
		EventTime:    timestamppb.New(time.Date(2024, 8, 1, 13, 0, 0, 500e6, time.UTC)),
		EventId:      id,
		Evidence:     map[string]string{"country": "BR"},
		Incident:     "access-key-new-location/key:AKIAEXAMPLE/country:BR",
	}
}

func TestFilter(t *testing.T) {
	high := finding("1", iamsentryv1.Severity_SEVERITY_HIGH)
	low := finding("2", iamsentryv1.Severity_SEVERITY_LOW)
	supp := finding("3", iamsentryv1.Severity_SEVERITY_CRITICAL)
	supp.Suppression = &iamsentryv1.Suppression{Entry: 0, Reason: "pentest"}
	for name, tt := range map[string]struct {
		f    findings.Filter
		want []*iamsentryv1.Finding
	}{
		"zero keeps unsuppressed":  {findings.Filter{}, []*iamsentryv1.Finding{high, low}},
		"min severity":             {findings.Filter{MinSeverity: iamsentryv1.Severity_SEVERITY_MEDIUM}, []*iamsentryv1.Finding{high}},
		"include suppressed":       {findings.Filter{IncludeSuppressed: true}, []*iamsentryv1.Finding{high, low, supp}},
		"detector filter, no hit":  {findings.Filter{Detectors: []string{"other"}}, nil},
		"detector filter, matches": {findings.Filter{Detectors: []string{"other", "access-key-new-location"}}, []*iamsentryv1.Finding{high, low}},
	} {
		var got []*iamsentryv1.Finding
		for _, f := range []*iamsentryv1.Finding{high, low, supp} {
			if tt.f.Match(f) {
				got = append(got, f)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: kept %d findings, want %d", name, len(got), len(tt.want))
		}
	}
}

func TestHubDropsOldestAndCounts(t *testing.T) {
	hub := findings.NewHub()
	sub := hub.Subscribe("", findings.Filter{}, 2)
	defer sub.Close()
	other := hub.Subscribe("tenant-b", findings.Filter{}, 2)
	defer other.Close()
	for _, id := range []string{"1", "2", "3", "4"} {
		hub.Deliver("", finding(id, iamsentryv1.Severity_SEVERITY_HIGH))
	}
	if n := sub.Dropped(); n != 2 {
		t.Errorf("dropped %d, want 2 (4 delivered into a buffer of 2)", n)
	}
	if n := sub.Dropped(); n != 0 {
		t.Errorf("Dropped must reset; second call %d", n)
	}
	var ids []string
	for range 2 {
		ids = append(ids, (<-sub.C()).GetEventId())
	}
	if !slices.Equal(ids, []string{"3", "4"}) {
		t.Errorf("a full watcher kept %v; it must lose the oldest and keep [3 4]", ids)
	}
	if len(other.C()) != 0 {
		t.Errorf("a watcher of another tenant received %d findings", len(other.C()))
	}
	if hub.Watchers() != 2 {
		t.Errorf("%d watchers, want 2", hub.Watchers())
	}
}

func TestJSONFormat(t *testing.T) {
	doc, ok := findings.JSON(findings.Item{Finding: finding("e-1", iamsentryv1.Severity_SEVERITY_HIGH)})
	if !ok {
		t.Fatal("finding not rendered")
	}
	var line struct {
		Kind    string         `json:"kind"`
		Finding map[string]any `json:"finding"`
	}
	if err := json.Unmarshal(doc, &line); err != nil {
		t.Fatal(err)
	}
	if line.Kind != "finding" || line.Finding["detector_id"] != "access-key-new-location" ||
		line.Finding["severity"] != "SEVERITY_HIGH" || line.Finding["event_time"] != "2024-08-01T13:00:00.500Z" {
		t.Errorf("json line %s", doc)
	}
	doc, ok = findings.JSON(findings.Item{Invalid: &findings.Invalid{Ingest: "vector", Reason: "eventTime missing"}})
	if !ok || !strings.Contains(string(doc), `"kind":"invalid_record"`) || !strings.Contains(string(doc), `"ingest":"vector"`) {
		t.Errorf("invalid record line %s", doc)
	}
}

// TestOCSFShape checks the Detection Finding against OCSF 1.3's class 2004:
// the required attributes and our mapping of every field.
func TestOCSFShape(t *testing.T) {
	f := finding("e-1", iamsentryv1.Severity_SEVERITY_HIGH)
	doc, ok := findings.OCSF(findings.Item{Finding: f})
	if !ok {
		t.Fatal("finding not rendered")
	}
	var got map[string]any
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatal(err)
	}
	at := func(path string) any {
		var v any = got
		for _, k := range strings.Split(path, ".") {
			switch x := v.(type) {
			case map[string]any:
				v = x[k]
			case []any:
				var i int
				if err := json.Unmarshal([]byte(k), &i); err != nil || i >= len(x) {
					return nil
				}
				v = x[i]
			default:
				return nil
			}
		}
		return v
	}
	want := map[string]any{
		"class_uid": 2004.0, "category_uid": 2.0, "activity_id": 1.0, "type_uid": 200401.0,
		"severity_id": 4.0, "severity": "High", "status_id": 1.0,
		"time":                              float64(time.Date(2024, 8, 1, 13, 0, 0, 500e6, time.UTC).UnixMilli()),
		"message":                           f.Explanation,
		"risk_score":                        70.0,
		"finding_info.uid":                  "access-key-new-location:e-1",
		"finding_info.title":                f.Title,
		"finding_info.desc":                 f.Explanation,
		"finding_info.types.0":              "access-key-new-location",
		"finding_info.analytic.uid":         "access-key-new-location",
		"finding_info.related_events.0.uid": "e-1",
		"attacks.0.technique.uid":           "T1078",
		"attacks.0.sub_technique.uid":       "T1078.004",
		"attacks.1.technique.uid":           "T1550",
		"actor.user.uid":                    f.PrincipalArn,
		"actor.user.name":                   "alice",
		"actor.user.credential_uid":         "AKIAEXAMPLE",
		"actor.user.account.uid":            "111122223333",
		"src_endpoint.ip":                   "203.0.113.9",
		"cloud.provider":                    "AWS",
		"cloud.account.uid":                 "111122223333",
		"cloud.account.type_id":             10.0,
		"metadata.version":                  "1.3.0",
		"metadata.product.name":             "iamsentry",
		"metadata.correlation_uid":          f.Incident,
		"metadata.event_code":               "ListBuckets",
		"unmapped.evidence.country":         "BR",
	}
	for path, w := range want {
		if g := at(path); g != w {
			t.Errorf("%s = %v, want %v", path, g, w)
		}
	}
	if at("attacks.1.sub_technique") != nil {
		t.Errorf("a technique without a sub-technique must not carry one: %v", at("attacks.1"))
	}

	// A service principal is not an IP; a suppressed finding says so.
	f.SourceIp = "ec2.amazonaws.com"
	f.Severity = iamsentryv1.Severity_SEVERITY_INFO
	f.Suppression = &iamsentryv1.Suppression{Entry: 2, Reason: "scanner"}
	doc, _ = findings.OCSF(findings.Item{Finding: f})
	got = nil
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatal(err)
	}
	for path, w := range map[string]any{"src_endpoint.svc_name": "ec2.amazonaws.com", "severity_id": 1.0,
		"severity": "Informational", "status_id": 3.0, "unmapped.suppression.reason": "scanner"} {
		if g := at(path); g != w {
			t.Errorf("%s = %v, want %v", path, g, w)
		}
	}
	if _, ok := findings.OCSF(findings.Item{Invalid: &findings.Invalid{Reason: "x"}}); ok {
		t.Errorf("OCSF rendered an invalid-record notice; it has no Detection Finding shape")
	}
}

func TestWriterSink(t *testing.T) {
	var buf bytes.Buffer
	s := findings.NewWriterSink(&buf, findings.WriterConfig{Format: findings.OCSF, Filter: findings.Filter{MinSeverity: iamsentryv1.Severity_SEVERITY_HIGH}})
	s.Send(findings.Item{Finding: finding("1", iamsentryv1.Severity_SEVERITY_CRITICAL)})
	s.Send(findings.Item{Finding: finding("2", iamsentryv1.Severity_SEVERITY_LOW)})
	s.Send(findings.Item{Invalid: &findings.Invalid{Reason: "x"}})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"uid":"access-key-new-location:1"`) {
		t.Errorf("writer wrote %q; want the one CRITICAL finding as an OCSF line", lines)
	}
}

func dropCounts(t *testing.T, r *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "iamsentry.findings.dropped" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				reason, _ := dp.Attributes.Value(attribute.Key("reason"))
				out[reason.AsString()] += dp.Value
			}
		}
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWebhookRetriesWithBackoff(t *testing.T) {
	var mu sync.Mutex
	var attempts []time.Time
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, time.Now())
		if r.Header.Get("Authorization") != "Bearer s3cret" || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if len(attempts) < 3 { // two failures, then success
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		bodies = append(bodies, string(b))
	}))
	defer srv.Close()
	reader := sdkmetric.NewManualReader()
	s := findings.NewWebhookSink(findings.WebhookConfig{
		Name: "hook", URL: srv.URL, Headers: map[string]string{"Authorization": "Bearer s3cret"},
		Backoff: 40 * time.Millisecond, MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	s.Send(findings.Item{Finding: finding("1", iamsentryv1.Severity_SEVERITY_HIGH)})
	waitFor(t, "the third attempt to succeed", func() bool { mu.Lock(); defer mu.Unlock(); return len(bodies) == 1 })
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 3 {
		t.Fatalf("%d attempts, want 3", len(attempts))
	}
	// Jittered exponential backoff: the second wait is drawn from
	// [40ms, 80ms), the first from [20ms, 40ms).
	if g1, g2 := attempts[1].Sub(attempts[0]), attempts[2].Sub(attempts[1]); g1 < 20*time.Millisecond || g2 < 40*time.Millisecond {
		t.Errorf("retries after %v and %v; want backoff of at least 20ms then 40ms", g1, g2)
	}
	var line struct {
		Kind    string         `json:"kind"`
		Finding map[string]any `json:"finding"`
	}
	if err := json.Unmarshal([]byte(bodies[0]), &line); err != nil || line.Kind != "finding" || line.Finding["event_id"] != "1" {
		t.Errorf("posted body %s (%v)", bodies[0], err)
	}
	if d := dropCounts(t, reader); len(d) != 0 {
		t.Errorf("drops %v after a delivery that succeeded", d)
	}
}

func TestWebhookBoundedQueueAndDrops(t *testing.T) {
	release := make(chan struct{})
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		if strings.Contains(r.URL.Path, "refuse") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		got.Add(1)
	}))
	defer srv.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	s := findings.NewWebhookSink(findings.WebhookConfig{Name: "hook", URL: srv.URL, QueueSize: 3, MeterProvider: mp})
	// The first item is taken by the sender, which then blocks in the
	// handler; 3 fit the queue; the remaining 6 are dropped.
	s.Send(findings.Item{Finding: finding("0", iamsentryv1.Severity_SEVERITY_HIGH)})
	waitFor(t, "the sender to take the first item", func() bool {
		return s.Queued() == 0
	})
	for i := range 9 {
		s.Send(findings.Item{Finding: finding(string(rune('a'+i)), iamsentryv1.Severity_SEVERITY_HIGH)})
	}
	if d := dropCounts(t, reader)[findings.DropQueueFull]; d != 6 {
		t.Errorf("queue_full drops %d, want 6 (queue of 3, sender busy)", d)
	}
	close(release)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got.Load() != 4 {
		t.Errorf("delivered %d, want 4 (one in hand, three queued)", got.Load())
	}

	// A 4xx other than 408/429 is not retried: refused, counted.
	refuse := findings.NewWebhookSink(findings.WebhookConfig{Name: "refuse", URL: srv.URL + "/refuse", MeterProvider: mp})
	refuse.Send(findings.Item{Finding: finding("r", iamsentryv1.Severity_SEVERITY_HIGH)})
	if err := refuse.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := dropCounts(t, reader)[findings.DropRejected]; d != 1 {
		t.Errorf("rejected drops %d, want 1", d)
	}

	// An unreachable receiver: attempts exhausted, counted.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	gaveUp := findings.NewWebhookSink(findings.WebhookConfig{Name: "dead", URL: deadURL, MaxAttempts: 2, Backoff: time.Millisecond, MeterProvider: mp})
	gaveUp.Send(findings.Item{Finding: finding("d", iamsentryv1.Severity_SEVERITY_HIGH)})
	if err := gaveUp.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := dropCounts(t, reader)[findings.DropGaveUp]; d != 1 {
		t.Errorf("gave_up drops %d, want 1", d)
	}
}
