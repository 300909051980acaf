package engine_test

import (
	"context"
	"testing"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpusrules"
	"github.com/iamsentry/iamsentry/state/memory"
)

// BenchmarkStateOpsRealistic scores the month of BenchmarkScoreRealistic
// on the embedded store and reports the state operations the engine
// queued per event (and logs them by kind and key name, see opCounter):
// a figure machine load cannot move, telling whether a change to the
// detectors or the engine asks the store for more.
func BenchmarkStateOpsRealistic(b *testing.B) {
	raws, built, ctx := realisticMonth(b)
	ops := opCounter{n: map[string]int64{}}
	for b.Loop() {
		store := memory.New(memory.WithSweepInterval(0))
		ops.Store = store
		eng := engine.New(built.Registry, &ops, engine.Options{Suppress: built.Suppress})
		for off := 0; off < len(raws); off += realisticBatch {
			if _, err := eng.Score(ctx, engine.Batch{Records: raws[off:min(off+realisticBatch, len(raws))]}); err != nil {
				b.Fatal(err)
			}
		}
		store.Close()
	}
	var total int64
	for _, n := range ops.n {
		total += n
	}
	if total == 0 {
		b.Fatal("no state operation queued")
	}
	events := float64(len(raws) * b.N)
	ops.report(b, events)
	b.ReportMetric(float64(total)/events, "ops/event")
	b.ReportMetric(0, "ns/op")
}

// realisticBatch is how many records the realistic benchmarks score at once.
const realisticBatch = 512

// realisticMonth is what the realistic benchmarks score: the JSON of every
// record of the realistic month (internal/realcorpus at its default size),
// in event-time order, the rules of its configuration, GeoIP on, and a
// context.
func realisticMonth(b *testing.B) ([][]byte, *config.Built, context.Context) {
	c := realcorpus.Generate(realcorpus.Options{Seed: 1})
	raws := make([][]byte, len(c.Records))
	for i, r := range c.Records {
		raws[i] = r.JSON
	}
	return raws, realcorpusrules.Build(b), context.Background()
}
