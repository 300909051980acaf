package findings

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Drop reasons, the values of the reason attribute of
// iamsentry.findings.dropped.
const (
	DropQueueFull = "queue_full" // a bounded queue was full
	DropGaveUp    = "gave_up"    // retries exhausted
	DropRejected  = "rejected"   // the receiver refused it (a 4xx other than 408/429)
	DropWrite     = "write"      // writing to a file or stdout failed
)

// drops counts what a sink (or the dispatcher) could not deliver. Creating
// the counter fails only on a broken provider; it then is a working no-op,
// so delivery never depends on telemetry.
type drops struct {
	c    metric.Int64Counter
	sink string
}

func newDrops(mp metric.MeterProvider, sink string) drops {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	c, _ := mp.Meter("github.com/iamsentry/iamsentry/server/findings").Int64Counter("iamsentry.findings.dropped",
		metric.WithUnit("{item}"),
		metric.WithDescription("Findings (and invalid-record notices) a sink or the dispatcher could not deliver, by sink and reason."))
	return drops{c: c, sink: sink}
}

func (d drops) add(reason string, n int) {
	d.c.Add(context.Background(), int64(n), metric.WithAttributes(
		attribute.String("sink", d.sink), attribute.String("reason", reason)))
}
