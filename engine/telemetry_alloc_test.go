package engine

import (
	"context"
	"testing"
	"time"

	mnoop "go.opentelemetry.io/otel/metric/noop"
	tnoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/iamsentry/iamsentry/internal/allocstest"
)

// Without a tracer every micro-batch still gets a span, one that records
// nothing: closing it must not build the attributes it would drop. At
// open-loop rates a batch holds one or two events, so what a batch costs
// is paid per event. (The recorded attributes are checked in server's
// TestSpanPerBatch.)
func TestEndSpanUnrecordedAllocatesNothing(t *testing.T) {
	e := &Engine{metrics: newMetrics(mnoop.NewMeterProvider(), tnoop.NewTracerProvider())}
	b := Batch{Tenant: "t", Records: make([][]byte, 3)}
	verdicts := []Verdict{{Outcome: OutcomeClean}, {Outcome: OutcomeAlert}, {Outcome: OutcomeInvalid}}
	ctx, span := e.startSpan(context.Background(), &b)
	start := time.Now()
	allocs := allocstest.Floor(100, func() { e.endSpan(ctx, span, start, len(b.Records), verdicts, nil) })
	if allocs != 0 {
		t.Errorf("endSpan of an unrecorded span: %.1f allocations, want 0 (attributes of a span nobody records must not be built)", allocs)
	}
}
