package engine

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state/instrumented"
)

// instrumentationName names the engine's meter and tracer.
const instrumentationName = "github.com/iamsentry/iamsentry/engine"

// batchSizeBuckets are the bucket boundaries of iamsentry.batch.size: up to
// the server's 512-record default and the 10,000-record request limit.
var batchSizeBuckets = []float64{1, 2, 5, 10, 25, 50, 100, 250, 512, 1000, 2500, 5000, 10000}

// metrics are the engine's instruments. Creating an instrument fails only
// on an invalid name or a broken provider; the instrument returned is then
// a working no-op, so scoring never depends on telemetry.
type metrics struct {
	suppressed, verdicts, findings, duplicate, late, invalid metric.Int64Counter
	batchSize                                                metric.Int64Histogram
	duration                                                 metric.Float64Histogram
	tracer                                                   trace.Tracer

	// outcomes are the verdicts counter's attributes, by Outcome, built
	// once.
	outcomes [len(outcomeNames)]metric.AddOption

	// newest is the newest plausible event time scored so far, in Unix
	// nanoseconds: the watermark records are late against.
	newest atomic.Int64
}

func newMetrics(mp metric.MeterProvider, tp trace.TracerProvider) *metrics {
	m := mp.Meter(instrumentationName)
	out := &metrics{tracer: tp.Tracer(instrumentationName)}
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, _ := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		return c
	}
	out.suppressed = counter("iamsentry.findings.suppressed", "{finding}",
		"Findings not alerted because a suppress entry matched, by detector and entry.")
	out.verdicts = counter("iamsentry.verdicts", "{verdict}",
		"Verdicts of scored batches, by outcome.")
	out.findings = counter("iamsentry.findings", "{finding}",
		"Findings raised and not suppressed, counted once per event when first handed out, by detector and severity.")
	for o := range out.outcomes {
		out.outcomes[o] = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", Outcome(o).String())))
	}
	out.duplicate = counter("iamsentry.records.duplicate", "{record}",
		"Records whose event id was scored before (redeliveries); answered with the original findings.")
	out.late = counter("iamsentry.records.late", "{record}",
		"Records scored for the first time whose event time is more than 15 min older than the newest event time this replica had seen.")
	out.invalid = counter("iamsentry.records.invalid", "{record}",
		"Records that could not be scored, by the parser's stable reason code.")
	out.batchSize, _ = m.Int64Histogram("iamsentry.batch.size", metric.WithUnit("{record}"),
		metric.WithDescription("Records per scored micro-batch."),
		metric.WithExplicitBucketBoundaries(batchSizeBuckets...))
	out.duration, _ = m.Float64Histogram("iamsentry.score.duration", metric.WithUnit("s"),
		metric.WithDescription("Time to score one micro-batch, state round trips included."),
		metric.WithExplicitBucketBoundaries(instrumented.DurationBuckets...))
	return out
}

// verdictCountKeys are the span attributes counting a batch's verdicts, by
// Outcome, named once.
var verdictCountKeys = func() (keys [len(outcomeNames)]attribute.Key) {
	for o, name := range outcomeNames {
		keys[o] = attribute.Key("iamsentry.verdicts." + strings.ToLower(name))
	}
	return keys
}()

// startSpan starts the span of one Score call.
func (e *Engine) startSpan(ctx context.Context, b *Batch) (context.Context, trace.Span) {
	return e.metrics.tracer.Start(ctx, "engine.Score", trace.WithLinks(b.Links...),
		trace.WithAttributes(
			attribute.String("iamsentry.tenant", b.Tenant),
			attribute.Int("iamsentry.batch.records", len(b.Records)),
			attribute.Bool("iamsentry.batch.learn", b.Learn),
		))
}

// endSpan records the outcome of a Score call on its span and the latency
// and size histograms.
func (e *Engine) endSpan(ctx context.Context, span trace.Span, start time.Time, n int, verdicts []Verdict, err error) {
	e.metrics.duration.Record(ctx, time.Since(start).Seconds())
	e.metrics.batchSize.Record(ctx, int64(n))
	// A span nobody records (no tracer configured, or not sampled) drops
	// its attributes: building them would cost allocations on every batch.
	if !span.IsRecording() {
		span.End()
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "scoring failed")
	} else {
		var counts [len(outcomeNames)]int
		for i := range verdicts {
			if o := verdicts[i].Outcome; o >= 0 && int(o) < len(counts) {
				counts[o]++
			}
		}
		for o, c := range counts {
			if c > 0 {
				span.SetAttributes(verdictCountKeys[o].Int(c))
			}
		}
	}
	span.End()
}

// count records the batch's metrics once it is settled, so a batch that
// failed and will be retried is not counted twice.
func (s *scoring) count(ctx context.Context) {
	m := s.e.metrics
	// Counters are added to once per batch and outcome, not once per
	// record: the sums are the same, and an attribute set costs
	// allocations each time it is built.
	var outcomes [len(outcomeNames)]int64
	for i := range s.verdicts {
		v := &s.verdicts[i]
		if o := v.Outcome; o >= 0 && int(o) < len(outcomes) {
			outcomes[o]++
		} else {
			m.verdicts.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", o.String())))
		}
		if v.Outcome == OutcomeInvalid {
			reason := "unknown"
			if v.Invalid != nil {
				reason = string(v.Invalid.Reason)
			}
			m.invalid.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
		}
	}
	for o, n := range outcomes {
		if n > 0 {
			m.verdicts.Add(ctx, n, m.outcomes[o])
		}
	}
	if n := outcomes[OutcomeDuplicate]; n > 0 {
		m.duplicate.Add(ctx, n)
	}
	// The bound a plausible time may reach, once per batch: time.Add
	// per record was a fifth of what observing its time cost.
	ahead := time.Now().Add(detectors.AllowedLateness)
	var late int64
	for i := range s.items {
		it := &s.items[i]
		if it.copyOf < 0 && s.verdicts[it.index].Outcome != OutcomeDuplicate && m.observeTime(it.event.Record.EventTime, ahead) {
			late++
		}
		if !s.fresh(it) {
			continue // findings counted when they were first handed out
		}
		for _, f := range it.candidates {
			if f.Suppressed == nil {
				m.findings.Add(ctx, 1, metric.WithAttributes(
					attribute.String("detector", f.DetectorID),
					attribute.String("severity", f.Severity.String()),
				))
				continue
			}
			m.suppressed.Add(ctx, 1, metric.WithAttributes(
				attribute.String("detector", f.DetectorID),
				attribute.String("entry", strconv.Itoa(f.Suppressed.Entry)),
				attribute.String("reason", f.Suppressed.Reason),
			))
		}
	}
	if late > 0 {
		m.late.Add(ctx, late)
	}
}

// observeTime reports whether t is late against the watermark and
// advances the watermark to t. A time after ahead, the wall clock plus
// detectors.AllowedLateness (a skewed or forged record), does not advance
// it: one such record would otherwise make every later record look late.
func (m *metrics) observeTime(t, ahead time.Time) (late bool) {
	ns := t.UnixNano()
	plausible := !t.After(ahead)
	for {
		cur := m.newest.Load()
		late = cur != 0 && ns < cur-int64(detectors.AllowedLateness)
		if !plausible || ns <= cur || m.newest.CompareAndSwap(cur, ns) {
			return late
		}
	}
}
