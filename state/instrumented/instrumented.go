// Package instrumented wraps any state.Store with OpenTelemetry: a span per
// round trip (Exec) with its operation count, the round-trip latency
// histogram iamsentry.state.duration, the counter iamsentry.state.errors and,
// for a store that evicts to keep within a memory budget (the embedded one),
// the counter iamsentry.state.evictions.
// It exists so that backends stay free of telemetry and every backend is
// measured the same way.
package instrumented

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/iamsentry/iamsentry/state"
)

const instrumentationName = "github.com/iamsentry/iamsentry/state/instrumented"

// DurationBuckets are the bucket boundaries, in seconds, of iamsentry's
// latency histograms (state round trips here, batch scoring in the engine):
// a Redis pipeline or a batch takes from a fraction of a millisecond to tens
// of milliseconds; the tail buckets catch outages and timeouts.
var DurationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Options configure Wrap. Zero fields take the global providers.
type Options struct {
	// Backend names the store in span attributes ("redis", "memory").
	Backend        string
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
}

// Store is a state.Store that measures another.
type Store struct {
	state.Store
	backend  attribute.KeyValue
	tracer   trace.Tracer
	duration metric.Float64Histogram
	errors   metric.Int64Counter
	observed metric.Registration // the evictions callback, or nil
}

// Evicter is a store that drops state to keep within a memory budget, such
// as state/memory. Evictions returns how many identities it evicted since
// it was created; it is safe for concurrent use.
type Evicter interface {
	Evictions() int64
}

var _ state.Store = (*Store)(nil)

// Wrap returns s measured. Ping and Close pass through unmeasured.
func Wrap(s state.Store, o Options) *Store {
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	m := o.MeterProvider.Meter(instrumentationName)
	w := &Store{Store: s, backend: attribute.String("db.system.name", o.Backend), tracer: o.TracerProvider.Tracer(instrumentationName)}
	// A failed instrument is a working no-op: state never depends on
	// telemetry.
	w.duration, _ = m.Float64Histogram("iamsentry.state.duration", metric.WithUnit("s"),
		metric.WithDescription("Time of one state round trip (one batch of operations: a Redis pipeline)."),
		metric.WithExplicitBucketBoundaries(DurationBuckets...))
	w.errors, _ = m.Int64Counter("iamsentry.state.errors", metric.WithUnit("{round_trip}"),
		metric.WithDescription("State round trips that failed, by kind: unavailable (the backend could not be reached) or other."))
	if ev, ok := s.(Evicter); ok {
		evictions, err := m.Int64ObservableCounter("iamsentry.state.evictions", metric.WithUnit("{identity}"),
			metric.WithDescription("Identities whose whole state the embedded store evicted, least recently used first, to keep within its memory budget."))
		if err == nil {
			w.observed, _ = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
				o.ObserveInt64(evictions, ev.Evictions())
				return nil
			}, evictions)
		}
	}
	return w
}

// Close stops observing the store and closes it.
func (w *Store) Close() error {
	if w.observed != nil {
		_ = w.observed.Unregister()
	}
	return w.Store.Close()
}

// Exec implements state.Store.
func (w *Store) Exec(ctx context.Context, b *state.Batch) error {
	ctx, span := w.tracer.Start(ctx, "state.Exec", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(w.backend, attribute.Int("iamsentry.state.ops", b.Len())))
	defer span.End()
	start := time.Now()
	err := w.Store.Exec(ctx, b)
	w.duration.Record(ctx, time.Since(start).Seconds())
	if err != nil {
		kind := "other"
		if errors.Is(err, state.ErrUnavailable) {
			kind = "unavailable"
		}
		w.errors.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", kind)))
		span.RecordError(err)
		span.SetStatus(codes.Error, kind)
	}
	return err
}

// Unwrap returns the measured store.
func (w *Store) Unwrap() state.Store { return w.Store }
