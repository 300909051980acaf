package server_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/corpus"
	"github.com/iamsentry/iamsentry/internal/loadgen"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpustest"
)

// BenchmarkServeSmallRequests is the shape of traffic at a fixed rate well
// below saturation (loadgen --rate 1000–5000): 8 streams, each sending one
// event a request and waiting for its verdict, so nearly every request is
// a micro-batch of its own. What the server spends per event here is its
// per-request and per-batch overhead (gRPC, the batcher, the engine call,
// telemetry), which the large requests of BenchmarkServeRealistic hide.
// allocs/event and B/event include the client's (loadgen's) and cannot be
// moved by noise; CPU-µs/event (the process's user and system time,
// client included) can, so compare it interleaved. Profile with
// -memprofile or -cpuprofile.
func BenchmarkServeSmallRequests(b *testing.B) {
	var records [][]byte
	for _, r := range corpus.Generate(corpus.Options{Seed: 1, Users: 40, Days: 3}) {
		records = append(records, r.JSON)
	}
	records = records[:min(len(records), 4000)]
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		b.Fatal(err)
	}
	cfg := loadgen.Config{Records: records, Streams: 8, Batch: 1, Window: 1}
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cpu0 := realcorpustest.CPUTime(b)
	events := 0
	for b.Loop() {
		events += serveOnce(ctx, b, reg, engine.Options{}, cfg).Events
	}
	cpu := realcorpustest.CPUTime(b) - cpu0
	runtime.ReadMemStats(&after)
	n := float64(events)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
	b.ReportMetric(float64(cpu.Microseconds())/n, "CPU-µs/event")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/event")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/event")
	b.ReportMetric(0, "ns/op")
}
