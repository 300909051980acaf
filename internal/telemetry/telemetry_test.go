package telemetry_test

import (
	"context"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/telemetry"
)

// TestExporterChoice: without OTEL_* settings nothing is exported (only
// /metrics serves); an OTLP endpoint turns OTLP on for both signals; an
// explicit OTEL_*_EXPORTER wins.
func TestExporterChoice(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		env                  map[string]string
		traces, metricsTrace string
	}{
		{"nothing set", nil, "none", "none"},
		{"endpoint set", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, "otlp", "otlp"},
		{"traces endpoint only", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/v1/traces"}, "otlp", "none"},
		{"explicit", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "console"}, "none", "console"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []string{"OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
				"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"} {
				t.Setenv(v, tc.env[v])
			}
			tel, err := telemetry.Setup(context.Background(), telemetry.Config{ServiceVersion: "test"})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			defer tel.Shutdown(ctx) // nothing listens at the endpoint: the flush error is expected
			if tel.Traces != tc.traces || tel.MetricsExport != tc.metricsTrace {
				t.Errorf("traces %q, metrics %q; want %q, %q", tel.Traces, tel.MetricsExport, tc.traces, tc.metricsTrace)
			}
			if tel.Metrics == nil || tel.MeterProvider == nil || tel.TracerProvider == nil {
				t.Error("Setup left a provider or the /metrics handler nil")
			}
		})
	}
	t.Setenv("OTEL_TRACES_EXPORTER", "carrier-pigeon")
	if _, err := telemetry.Setup(context.Background(), telemetry.Config{}); err == nil {
		t.Error("an unknown OTEL_TRACES_EXPORTER was accepted")
	}
}
