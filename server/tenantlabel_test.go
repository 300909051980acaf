package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/server/auth"
	"github.com/iamsentry/iamsentry/state/memory"
)

// TestMetricsTenantLabel: /metrics is served without authentication, so
// by default it names no tenant; the tenant label is there only when
// Options.MetricsTenantLabel (serve --metrics-tenant-label) asks for it.
func TestMetricsTenantLabel(t *testing.T) {
	const tenant = "acme-corp-tenant"
	tokens := loadTokens(t, map[string]string{"acme-token": tenant})
	for _, label := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		tel := setupTelemetry(t)
		addr, srv := serveEngine(t, memory.New(), engine.Options{MeterProvider: tel.MeterProvider}, server.Options{
			MeterProvider: tel.MeterProvider, MetricsTenantLabel: label,
			Auth: &auth.Authenticator{Tokens: tokens, OpenHealth: true}})
		admin := httptest.NewServer(srv.AdminHandler(tel.Metrics))
		defer admin.Close()
		client := iamsentryv1.NewDetectionServiceClient(conn(t, addr, nil))
		if _, err := client.ScoreBatch(bearer(ctx, "acme-token"), &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{
			jsonEvent(listUsers("tl-1", "2024-08-01T12:00:00Z"))}}); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(admin.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		mf := scrape(t, admin.URL+"/metrics")
		n, _ := value(mf, "iamsentry_records_received_total", map[string]string{"path": "score_batch"})
		if n != 1 {
			t.Errorf("label %v: iamsentry_records_received_total{path=score_batch} = %v, want 1", label, n)
		}
		named := strings.Contains(string(body), tenant)
		if label && !named {
			t.Errorf("rule: with MetricsTenantLabel, records received are labelled by tenant; %q is not in /metrics", tenant)
		}
		if !label && named {
			t.Errorf("rule: by default the unauthenticated /metrics names no tenant; %q is in it", tenant)
		}
	}
}
