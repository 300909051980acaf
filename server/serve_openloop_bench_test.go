package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/corpus"
	"github.com/iamsentry/iamsentry/internal/loadgen"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// slowStore is the embedded store with a fixed wait in every Exec: a
// stand-in for the round trip to Redis that needs no server and costs no
// CPU, so how requests group into batches under a fixed rate shows apart
// from the CPU the machine's other work leaves.
type slowStore struct {
	state.Store
	trip time.Duration
}

func (s slowStore) Exec(ctx context.Context, b *state.Batch) error {
	time.Sleep(s.trip)
	return s.Store.Exec(ctx, b)
}

// BenchmarkServeOpenLoopRoundTrip offers 5,000 events/s (loadgen's open
// loop, 8 streams) to a server whose store takes 1 ms a round trip, and
// reports how the events group: events per engine batch (larger batches
// cost Redis and the server less per event), state round trips per event,
// and the verdict latency from each event's due time.
func BenchmarkServeOpenLoopRoundTrip(b *testing.B) {
	var records [][]byte
	for _, r := range corpus.Generate(corpus.Options{Seed: 1, Users: 200, Days: 5}) {
		records = append(records, r.JSON)
	}
	records = records[:min(len(records), 10000)] // 2 s of schedule at most
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var batches, trips, events int64
	var p50, p99 time.Duration
	for b.Loop() {
		mem := memory.New(memory.WithSweepInterval(0))
		eng := engine.New(reg, slowStore{Store: mem, trip: time.Millisecond}, engine.Options{})
		conn, stop := benchServe(ctx, b, eng)
		rep, err := loadgen.RunRate(ctx, loadgen.OpenScore(conn), loadgen.RateConfig{Records: records, Rate: 5000, Streams: 8})
		if err != nil {
			b.Fatal(err)
		}
		stop()
		mem.Close()
		st := eng.Stats()
		batches, trips, events = batches+st.Batches, trips+st.RoundTrips, events+int64(rep.Events)
		p50, p99 = max(p50, rep.Percentile(50)), max(p99, rep.Percentile(99))
	}
	b.ReportMetric(float64(events)/float64(batches), "events/batch")
	b.ReportMetric(float64(trips)/float64(events), "trips/event")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
