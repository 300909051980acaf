package engine

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/iamsentry/iamsentry/detectors"
)

// suppress marks the candidate findings a suppress entry matches. A
// suppressed finding takes no throttle: it must not use up the one alert an
// incident gets, in case a later event of the same incident is not covered
// by the entry.
func (s *scoring) suppress() {
	if len(s.rules.Suppress) == 0 {
		return
	}
	for i := range s.items {
		it := &s.items[i]
		for j := range it.candidates {
			f := &it.candidates[j]
			if e := detectors.Suppress(s.rules.Suppress, f, it.event.Record); e != nil {
				f.Suppressed = &detectors.Suppressed{Entry: e.Entry, Reason: e.Reason}
				f.Once = nil
			}
		}
	}
}

// forget drops every candidate finding, for a batch that only learns.
func (s *scoring) forget() {
	for i := range s.items {
		s.items[i].candidates = nil
	}
}

// metrics are the engine's instruments.
type metrics struct {
	suppressed metric.Int64Counter
}

func newMetrics(mp metric.MeterProvider) metrics {
	m := mp.Meter("github.com/iamsentry/iamsentry/engine")
	var out metrics
	// Creating an instrument fails only on an invalid name or a broken
	// provider; the instrument returned is then a working no-op, so scoring
	// never depends on telemetry.
	out.suppressed, _ = m.Int64Counter("iamsentry.findings.suppressed",
		metric.WithUnit("{finding}"),
		metric.WithDescription("Findings not alerted because a suppress entry matched, by detector and entry."))
	return out
}

// count records the batch's metrics once it is settled, so a batch that
// failed and will be retried is not counted twice.
func (s *scoring) count(ctx context.Context) {
	for i := range s.items {
		it := &s.items[i]
		if it.copyOf >= 0 || s.verdicts[it.index].Outcome == OutcomeDuplicate {
			continue
		}
		for _, f := range it.candidates {
			if f.Suppressed == nil {
				continue
			}
			s.e.metrics.suppressed.Add(ctx, 1, metric.WithAttributes(
				attribute.String("detector", f.DetectorID),
				attribute.String("entry", strconv.Itoa(f.Suppressed.Entry)),
				attribute.String("reason", f.Suppressed.Reason),
			))
		}
	}
}
