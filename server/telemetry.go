package server

import (
	"context"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/grpc/stats"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/iamsentry/iamsentry/server/auth"
)

// Ingest paths, the values of the path attribute of
// iamsentry.records.received.
const (
	pathScore      = "score"
	pathScoreBatch = "score_batch"
	pathOTLP       = "otlp"
	pathVector     = "vector"
)

// serverMetrics are the server's instruments. A failed instrument is a
// working no-op: serving never depends on telemetry.
type serverMetrics struct {
	received metric.Int64Counter
	invalid  metric.Int64Counter
	tenant   bool // label received with the tenant (Options.MetricsTenantLabel)
	// byPath holds the attribute options of each ingest path, made once:
	// building it per request cost allocations on every call.
	byPath map[string][]metric.AddOption
}

// ingestPaths are the values the path attribute takes.
var ingestPaths = []string{pathScore, pathScoreBatch, pathOTLP, pathVector, pathSQS}

var noRecordAttrs = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reasonNoRecord)))}

func newServerMetrics(mp metric.MeterProvider, tenantLabel bool) serverMetrics {
	m := mp.Meter("github.com/iamsentry/iamsentry/server")
	out := serverMetrics{tenant: tenantLabel, byPath: make(map[string][]metric.AddOption, len(ingestPaths))}
	for _, p := range ingestPaths {
		out.byPath[p] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("path", p)))}
	}
	out.received, _ = m.Int64Counter("iamsentry.records.received", metric.WithUnit("{record}"),
		metric.WithDescription("Records received, by ingest path (and tenant with --metrics-tenant-label), before any check."))
	// Same name as the engine's counter of parser rejections: these are
	// the records rejected before parsing (an event without a record).
	out.invalid, _ = m.Int64Counter("iamsentry.records.invalid", metric.WithUnit("{record}"),
		metric.WithDescription("Records that could not be scored, by the parser's stable reason code."))
	return out
}

func (m serverMetrics) receive(ctx context.Context, path string, n int) {
	m.receiveTenant(ctx, path, auth.Tenant(ctx), n)
}

// receiveTenant is receive for records whose tenant is not the caller's
// (in-process sources).
func (m serverMetrics) receiveTenant(ctx context.Context, path, tenant string, n int) {
	if n <= 0 {
		return
	}
	if opt, ok := m.byPath[path]; ok && !m.tenant {
		m.received.Add(ctx, int64(n), opt...)
		return
	}
	attrs := []attribute.KeyValue{attribute.String("path", path)}
	if m.tenant {
		attrs = append(attrs, attribute.String("tenant", tenant))
	}
	m.received.Add(ctx, int64(n), metric.WithAttributes(attrs...))
}

// reasonNoRecord is the reason code of events that carry no CloudTrail
// record the server could render (empty, or an unrenderable object).
const reasonNoRecord = "no_record"

func (m serverMetrics) rejectEnvelope(ctx context.Context) {
	m.invalid.Add(ctx, 1, noRecordAttrs...)
}

// statsHandler is the otelgrpc server handler: a span and the rpc.server.*
// metrics per call, except health checks and reflection, which probes and
// grpcurl make often and which say nothing about the service.
func (o *Options) statsHandler() stats.Handler {
	mp, tp := o.MeterProvider, o.TracerProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(tp), otelgrpc.WithMeterProvider(mp),
		otelgrpc.WithFilter(func(info *stats.RPCTagInfo) bool { return !auth.Open(info.FullMethodName) }),
	)
}

// AdminHandler serves the admin listener: /metrics (metrics, the
// Prometheus exposition; 404 when nil), /healthz (the process is alive:
// always 200) and /readyz (200 exactly when gRPC health reports the
// detection service SERVING: the state store answers and the server is not
// shutting down; 503 otherwise).
func (s *Server) AdminHandler(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		resp, err := s.health.Check(r.Context(), &healthpb.HealthCheckRequest{Service: ServiceName})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not serving\n"))
			return
		}
		_, _ = w.Write([]byte("serving\n"))
	})
	return mux
}
