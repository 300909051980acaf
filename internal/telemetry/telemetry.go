// Package telemetry sets up OpenTelemetry for serve: the meter and tracer
// providers, exporters chosen by the standard OTEL_* environment
// variables, and the Prometheus exposition of every metric for the admin
// listener's /metrics. It is the one place that knows which exporters
// exist; everything else takes providers.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config configures Setup.
type Config struct {
	ServiceVersion string       // service.version of the resource
	Logger         *slog.Logger // receives exporter errors; default: discard
}

// Telemetry is what Setup built.
type Telemetry struct {
	MeterProvider  *sdkmetric.MeterProvider
	TracerProvider trace.TracerProvider
	// Metrics serves every metric in the Prometheus text format.
	Metrics http.Handler
	// Traces and MetricsExport name the exporters chosen, for the
	// start-up log: "none", "otlp", "console".
	Traces, MetricsExport string

	shutdown []func(context.Context) error
}

// Setup builds the providers. Exporters follow the OpenTelemetry
// environment variables, with one difference in the defaults: when
// OTEL_TRACES_EXPORTER (OTEL_METRICS_EXPORTER) is unset, traces (metrics)
// are exported by OTLP only if an OTLP endpoint is set
// (OTEL_EXPORTER_OTLP_ENDPOINT or its per-signal variant), and not at all
// otherwise, so a replica without a collector does not retry sending to
// localhost:4318 forever. Prometheus exposition is always on.
func Setup(ctx context.Context, c Config) (*Telemetry, error) {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "iamsentry"), attribute.String("service.version", c.ServiceVersion)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES override
		resource.WithTelemetrySDK(), resource.WithHost(),
	)
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	t := &Telemetry{}
	if err := t.setupMetrics(ctx, res); err != nil {
		return nil, err
	}
	if err := t.setupTraces(ctx, res); err != nil {
		_ = t.Shutdown(ctx)
		return nil, err
	}
	log := c.Logger
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("telemetry export failed", slog.Any("error", err))
	}))
	return t, nil
}

func (t *Telemetry) setupMetrics(ctx context.Context, res *resource.Resource) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	prom, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return fmt.Errorf("prometheus exporter: %w", err)
	}
	t.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	opts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	t.MetricsExport = exporterName("OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
	if t.MetricsExport != "none" {
		// Unset, autoexport's own default is otlp, as decided above.
		r, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return fmt.Errorf("metrics exporter (OTEL_METRICS_EXPORTER): %w", err)
		}
		opts = append(opts, sdkmetric.WithReader(r))
	}
	t.MeterProvider = sdkmetric.NewMeterProvider(opts...)
	t.shutdown = append(t.shutdown, t.MeterProvider.Shutdown)
	return nil
}

func (t *Telemetry) setupTraces(ctx context.Context, res *resource.Resource) error {
	t.Traces = exporterName("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if t.Traces == "none" {
		t.TracerProvider = noop.NewTracerProvider()
		return nil
	}
	exp, err := autoexport.NewSpanExporter(ctx) // unset: otlp, as decided above
	if err != nil {
		return fmt.Errorf("traces exporter (OTEL_TRACES_EXPORTER): %w", err)
	}
	// The sampler follows OTEL_TRACES_SAMPLER (default: parent-based,
	// always on).
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp))
	t.TracerProvider = tp
	t.shutdown = append(t.shutdown, tp.Shutdown)
	return nil
}

// exporterName is the exporter a signal gets: the value of its
// OTEL_*_EXPORTER variable when set; else "otlp" when an OTLP endpoint is
// set for it; else "none".
func exporterName(exporterVar, signalEndpointVar string) string {
	if v := os.Getenv(exporterVar); v != "" {
		return v
	}
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv(signalEndpointVar) != "" {
		return "otlp"
	}
	return "none"
}

// Install makes t the global provider set and sets the W3C trace-context
// and baggage propagators, for libraries that use the globals.
func (t *Telemetry) Install() {
	otel.SetMeterProvider(t.MeterProvider)
	otel.SetTracerProvider(t.TracerProvider)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
}

// Shutdown flushes and stops the exporters.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}
