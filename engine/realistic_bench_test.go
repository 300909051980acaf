package engine_test

import (
	"runtime"
	"testing"

	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpustest"
	"github.com/iamsentry/iamsentry/state/memory"
)

// BenchmarkScoreRealistic scores a month of a realistic account
// (internal/realcorpus at its default size: about 150 identities, 30 days,
// attacks woven in) through the engine on the embedded store, in
// micro-batches of 512 records held in memory: parsing, every built-in
// detector with GeoIP databases on, and state, without reading files or
// writing findings. It reports events per CPU-second of the process (GC
// included), events/s, and heap allocations and bytes per event. Each
// pass over the month starts from a fresh store, as a backtest does.
func BenchmarkScoreRealistic(b *testing.B) {
	raws, built, ctx := realisticMonth(b)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cpu0 := realcorpustest.CPUTime(b)
	alerts := 0
	for b.Loop() {
		store := memory.New(memory.WithSweepInterval(0))
		eng := engine.New(built.Registry, store, engine.Options{Suppress: built.Suppress})
		for off := 0; off < len(raws); off += realisticBatch {
			vs, err := eng.Score(ctx, engine.Batch{Records: raws[off:min(off+realisticBatch, len(raws))]})
			if err != nil {
				b.Fatal(err)
			}
			for i := range vs {
				if vs[i].Outcome == engine.OutcomeAlert {
					alerts++
				}
			}
		}
		store.Close()
	}
	cpu := realcorpustest.CPUTime(b) - cpu0
	runtime.ReadMemStats(&after)
	if alerts == 0 {
		b.Fatal("no alerts on a corpus with attacks woven in")
	}
	b.Logf("%d events a pass, %d alerts a pass", len(raws), alerts/b.N)
	n := float64(len(raws) * b.N)
	b.ReportMetric(n/cpu.Seconds(), "events/CPU-s")
	b.ReportMetric(n/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/event")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/event")
	b.ReportMetric(0, "ns/op") // one op is a whole month: meaningless
}
