package instrumented_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/instrumented"
	"github.com/iamsentry/iamsentry/state/memory"
	"github.com/iamsentry/iamsentry/state/statetest"
)

// The wrapper measures; it must not change what the store it wraps does.
func TestConformance(t *testing.T) {
	newStore := func(t *testing.T) state.Store {
		s := instrumented.Wrap(memory.New(), instrumented.Options{})
		t.Cleanup(func() { s.Close() })
		return s
	}
	statetest.Run(t, statetest.Harness{New: newStore})
	statetest.Lifecycle(t, func(*testing.T) state.Store { return instrumented.Wrap(memory.New(), instrumented.Options{}) })
}

// An identity flood past the embedded store's budget shows as
// iamsentry.state.evictions.
func TestEvictionsCounted(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	mem := memory.New(memory.WithMaxBytes(256<<10), memory.WithSweepInterval(0))
	s := instrumented.Wrap(mem, instrumented.Options{Backend: "memory", MeterProvider: mp})
	defer s.Close()
	at := time.Date(2024, 9, 1, 12, 0, 0, 0, time.UTC)
	var b state.Batch
	for i := range 5000 {
		b.Mark(state.Key{Tenant: "acme", Identity: fmt.Sprintf("key:AKIAFLOOD%011d", i), Name: "first-seen"}, at, state.KeepEarliest, time.Hour)
	}
	if err := s.Exec(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	want := mem.Evictions()
	if want == 0 {
		t.Fatal("5000 identities in a 256 KiB budget evicted none")
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "iamsentry.state.evictions" {
				continue
			}
			sum := m.Data.(metricdata.Sum[int64])
			if len(sum.DataPoints) != 1 || sum.DataPoints[0].Value != want || !sum.IsMonotonic {
				t.Fatalf("iamsentry.state.evictions = %+v; want one monotonic point of %d", sum, want)
			}
			return
		}
	}
	t.Fatal("no iamsentry.state.evictions metric")
}
