package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	vectorpb "github.com/iamsentry/iamsentry/gen/vector"
	"github.com/iamsentry/iamsentry/internal/telemetry"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/state/instrumented"
	"github.com/iamsentry/iamsentry/state/memory"

	collectorlogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
)

// listUsers is a clean record at the given event time.
func listUsers(id, at string) []byte {
	return fmt.Appendf(nil, `{"eventVersion":"1.08","eventID":%q,"eventTime":%q,"eventName":"ListUsers","eventSource":"iam.amazonaws.com","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}}`, id, at)
}

// noExportEnv makes telemetry.Setup pick no OTLP exporter whatever the
// machine's environment says.
func noExportEnv(t *testing.T) {
	for _, v := range []string{"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"} {
		t.Setenv(v, "")
	}
}

// TestMetricsOnAdminEndpoint scores a corpus through every ingest path and
// reads /metrics as Prometheus scrapes it: every metric of the Operate
// table is there under its Prometheus name with its labels.
// setupTelemetry sets up metrics with the Prometheus exposition and no
// exporter, shut down when the test ends.
func setupTelemetry(t *testing.T) *telemetry.Telemetry {
	t.Helper()
	noExportEnv(t)
	tel, err := telemetry.Setup(t.Context(), telemetry.Config{ServiceVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Shutdown(context.Background()) })
	return tel
}

func TestMetricsOnAdminEndpoint(t *testing.T) {
	tel := setupTelemetry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store := &switchStore{Store: memory.New()}
	sandbox := detectors.Suppression{Entry: 0, Detector: builtin.AdminPolicyAttachedID, Account: "999988887777", Reason: "sandbox"}
	addr, srv := serveEngine(t, instrumented.Wrap(store, instrumented.Options{Backend: "memory", MeterProvider: tel.MeterProvider}),
		engine.Options{MeterProvider: tel.MeterProvider, Suppress: []detectors.Suppression{sandbox}},
		server.Options{MeterProvider: tel.MeterProvider})
	admin := httptest.NewServer(srv.AdminHandler(tel.Metrics))
	defer admin.Close()
	c := conn(t, addr, nil)
	client := iamsentryv1.NewDetectionServiceClient(c)

	// Score stream: a clean record, then one two hours older (late).
	stream, err := client.Score(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range [][]byte{listUsers("m-1", "2024-08-01T12:00:00Z"), listUsers("m-2", "2024-08-01T10:00:00Z")} {
		if err := stream.Send(&iamsentryv1.ScoreRequest{Sequence: uint64(i + 1), Events: []*iamsentryv1.Event{jsonEvent(rec)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	stream.CloseSend()
	// ScoreBatch: an alert, a suppressed alert, malformed JSON, an event
	// without a record, and the alert again (duplicate).
	inSandbox := bytes.ReplaceAll(attachRecord(t, "m-4"), []byte("123456789012"), []byte("999988887777"))
	if _, err := client.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{
		jsonEvent(attachRecord(t, "m-3")), jsonEvent(inSandbox), jsonEvent([]byte("{")), {},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{jsonEvent(attachRecord(t, "m-3"))}}); err != nil {
		t.Fatal(err)
	}
	if _, err := collectorlogspb.NewLogsServiceClient(c).Export(ctx, otlpRequest(stringBody(listUsers("m-5", "2024-08-01T12:01:00Z")))); err != nil {
		t.Fatal(err)
	}
	if _, err := vectorpb.NewVectorClient(c).PushEvents(ctx, &vectorpb.PushEventsRequest{Events: []*vectorpb.EventWrapper{vectorMessage(listUsers("m-6", "2024-08-01T12:02:00Z"))}}); err != nil {
		t.Fatal(err)
	}
	// An outage: one failed round trip.
	store.down.Store(true)
	if _, err := client.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{jsonEvent(listUsers("m-7", "2024-08-01T12:03:00Z"))}}); status.Code(err) != codes.Unavailable {
		t.Fatalf("during the outage: %v, want UNAVAILABLE", err)
	}
	store.down.Store(false)

	mf := scrape(t, admin.URL+"/metrics")
	type series struct {
		name   string
		labels map[string]string
		min    float64 // counter value or histogram count
	}
	for _, want := range []series{
		{"iamsentry_records_received_total", map[string]string{"path": "score"}, 2},
		{"iamsentry_records_received_total", map[string]string{"path": "score_batch"}, 5},
		{"iamsentry_records_received_total", map[string]string{"path": "otlp"}, 1},
		{"iamsentry_records_received_total", map[string]string{"path": "vector"}, 1},
		{"iamsentry_verdicts_total", map[string]string{"outcome": "CLEAN"}, 4},
		{"iamsentry_verdicts_total", map[string]string{"outcome": "ALERT"}, 1},
		{"iamsentry_verdicts_total", map[string]string{"outcome": "SUPPRESSED"}, 1},
		{"iamsentry_verdicts_total", map[string]string{"outcome": "DUPLICATE"}, 1},
		{"iamsentry_verdicts_total", map[string]string{"outcome": "INVALID"}, 1},
		{"iamsentry_findings_total", map[string]string{"detector": "admin-policy-attached", "severity": "HIGH"}, 1},
		{"iamsentry_findings_suppressed_total", map[string]string{"detector": "admin-policy-attached", "entry": "0", "reason": "sandbox"}, 1},
		{"iamsentry_records_duplicate_total", nil, 1},
		{"iamsentry_records_late_total", nil, 1},
		{"iamsentry_records_invalid_total", map[string]string{"reason": "not_json"}, 1},
		{"iamsentry_records_invalid_total", map[string]string{"reason": "no_record"}, 1},
		{"iamsentry_batch_size", nil, 6},
		{"iamsentry_score_duration_seconds", nil, 6},
		{"iamsentry_state_duration_seconds", nil, 6},
		{"iamsentry_state_errors_total", map[string]string{"kind": "unavailable"}, 1},
	} {
		if got, ok := value(mf, want.name, want.labels); !ok || got < want.min {
			t.Errorf("%s%v = %v (present: %v), want at least %v", want.name, want.labels, got, ok, want.min)
		}
	}
	if got, _ := value(mf, "iamsentry_findings_total", map[string]string{"detector": "admin-policy-attached"}); got != 1 {
		t.Errorf("iamsentry_findings_total{admin-policy-attached} = %v, want 1: suppressed findings and duplicates are not findings", got)
	}
	// Latency histograms have millisecond-scale buckets.
	if h := mf["iamsentry_state_duration_seconds"]; h == nil || !hasBucket(h, 0.001) {
		t.Errorf("iamsentry_state_duration_seconds lacks a 1 ms bucket")
	}
	// Health checks are not instrumented by otelgrpc; scoring calls are.
	if _, err := healthpb.NewHealthClient(c).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	mf = scrape(t, admin.URL+"/metrics")
	if _, ok := value(mf, "rpc_server_call_duration_seconds", map[string]string{"rpc_method": "iamsentry.v1.DetectionService/ScoreBatch"}); !ok {
		if _, ok := value(mf, "rpc_server_duration_milliseconds", map[string]string{"rpc_method": "ScoreBatch"}); !ok {
			t.Errorf("no otelgrpc server metric for ScoreBatch; families: %v", names(mf))
		}
	}
	for name, fam := range mf {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "grpc.health") || strings.Contains(l.GetValue(), "Health/Check") {
					t.Errorf("%s instruments health checks: %v", name, m.GetLabel())
				}
			}
		}
	}
}

func TestAdminHealthEndpoints(t *testing.T) {
	store := &switchStore{Store: memory.New()}
	_, srv := serveEngine(t, store, engine.Options{}, server.Options{})
	admin := httptest.NewServer(srv.AdminHandler(nil))
	defer admin.Close()
	get := func(path string) int {
		resp, err := http.Get(admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, "/readyz 200 once the store answers", func() bool { return get("/readyz") == http.StatusOK })
	store.down.Store(true)
	waitFor(t, "/readyz 503 while the store is down", func() bool { return get("/readyz") == http.StatusServiceUnavailable })
	if got := get("/healthz"); got != http.StatusOK {
		t.Errorf("/healthz = %d while the store is down, want 200: the process is alive", got)
	}
	if got := get("/metrics"); got != http.StatusNotFound {
		t.Errorf("/metrics without a metrics handler = %d, want 404", got)
	}
}

// TestSpanPerBatch: one engine.Score span per micro-batch, with tenant,
// size and outcome counts, linked to the call it served; a state.Exec
// child span per round trip; no span for health checks.
func TestSpanPerBatch(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	store := instrumented.Wrap(memory.New(), instrumented.Options{Backend: "memory", TracerProvider: tp})
	addr, _ := serveEngine(t, store, engine.Options{TracerProvider: tp}, server.Options{TracerProvider: tp})
	c := conn(t, addr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(c).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := iamsentryv1.NewDetectionServiceClient(c).ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{
		jsonEvent(attachRecord(t, "s-1")), jsonEvent(listUsers("s-2", "2024-08-01T12:00:00Z")), jsonEvent([]byte("{")),
	}}); err != nil {
		t.Fatal(err)
	}
	var scoreSpans, rpcSpans, execSpans []sdktrace.ReadOnlySpan
	waitFor(t, "the call's server span ends", func() bool {
		scoreSpans, rpcSpans, execSpans = nil, nil, nil
		for _, s := range exp.GetSpans().Snapshots() {
			switch {
			case s.Name() == "engine.Score":
				scoreSpans = append(scoreSpans, s)
			case s.Name() == "state.Exec":
				execSpans = append(execSpans, s)
			case strings.Contains(s.Name(), "ScoreBatch"):
				rpcSpans = append(rpcSpans, s)
			case strings.Contains(s.Name(), "Health"):
				t.Errorf("health check traced: span %q", s.Name())
			}
		}
		return len(rpcSpans) == 1
	})
	if len(scoreSpans) != 1 {
		t.Fatalf("%d engine.Score spans for one batch, want 1", len(scoreSpans))
	}
	sp := scoreSpans[0]
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range sp.Attributes() {
		attrs[kv.Key] = kv.Value
	}
	for k, want := range map[attribute.Key]int64{"iamsentry.batch.records": 3, "iamsentry.verdicts.alert": 1, "iamsentry.verdicts.clean": 1, "iamsentry.verdicts.invalid": 1} {
		if got := attrs[k].AsInt64(); got != want {
			t.Errorf("engine.Score attribute %s = %d, want %d", k, got, want)
		}
	}
	if v, ok := attrs["iamsentry.tenant"]; !ok || v.AsString() != "" {
		t.Errorf("engine.Score lacks iamsentry.tenant (the default tenant): %v", attrs)
	}
	if links := sp.Links(); len(links) != 1 || links[0].SpanContext.SpanID() != rpcSpans[0].SpanContext().SpanID() {
		t.Errorf("engine.Score links %v, want the ScoreBatch server span %v", links, rpcSpans[0].SpanContext().SpanID())
	}
	if len(execSpans) == 0 {
		t.Fatal("no state.Exec span")
	}
	for _, e := range execSpans {
		if e.Parent().SpanID() != sp.SpanContext().SpanID() {
			t.Errorf("state.Exec span is not a child of engine.Score")
		}
		ok := false
		for _, kv := range e.Attributes() {
			ok = ok || (kv.Key == "iamsentry.state.ops" && kv.Value.AsInt64() > 0)
		}
		if !ok {
			t.Errorf("state.Exec span lacks a positive iamsentry.state.ops: %v", e.Attributes())
		}
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v", err)
	}
	return mf
}

// value sums the series of family name whose labels include want: the
// counter value, or a histogram's sample count.
func value(mf map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	fam, ok := mf[name]
	if !ok {
		return 0, false
	}
	var sum float64
	found := false
next:
	for _, m := range fam.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if gv, ok := got[k]; !ok || gv != v {
				continue next
			}
		}
		found = true
		switch {
		case m.GetCounter() != nil:
			sum += m.GetCounter().GetValue()
		case m.GetHistogram() != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, found
}

func hasBucket(fam *dto.MetricFamily, bound float64) bool {
	for _, m := range fam.GetMetric() {
		for _, b := range m.GetHistogram().GetBucket() {
			if b.GetUpperBound() == bound {
				return true
			}
		}
	}
	return false
}

func names(mf map[string]*dto.MetricFamily) []string {
	var out []string
	for n := range mf {
		out = append(out, n)
	}
	return out
}
