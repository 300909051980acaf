package state_test

import (
	"context"
	"testing"

	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpusrules"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// BenchmarkBatchIndexRealistic scores the realistic month of the engine's
// BenchmarkScoreRealistic (micro-batches of 512, embedded store) and
// reports the look-ups the batches' indexes made per event and the
// operations queued per event: figures machine load cannot move, telling
// whether a change to the batch's index does less work per queued
// operation, and that it queues the same operations.
func BenchmarkBatchIndexRealistic(b *testing.B) {
	c := realcorpus.Generate(realcorpus.Options{Seed: 1})
	raws := make([][]byte, len(c.Records))
	for i, r := range c.Records {
		raws[i] = r.JSON
	}
	built := realcorpusrules.Build(b)
	ctx := context.Background()
	const batch = 512
	var counted probeCounter
	for b.Loop() {
		store := memory.New(memory.WithSweepInterval(0))
		counted.Store, counted.seen = store, map[*state.Batch]int{}
		eng := engine.New(built.Registry, &counted, engine.Options{Suppress: built.Suppress})
		for off := 0; off < len(raws); off += batch {
			if _, err := eng.Score(ctx, engine.Batch{Records: raws[off:min(off+batch, len(raws))]}); err != nil {
				b.Fatal(err)
			}
		}
		store.Close()
	}
	if counted.ops == 0 {
		b.Fatal("no state operation queued")
	}
	events := float64(len(raws) * b.N)
	b.ReportMetric(float64(counted.probes)/events, "lookups/event")
	b.ReportMetric(float64(counted.ops)/events, "ops/event")
	b.ReportMetric(float64(counted.probes)/float64(counted.ops), "lookups/op")
	b.ReportMetric(0, "ns/op")
}

// probeCounter is a Store that counts, at each Exec, the operations of
// the batch and the index look-ups made on it since its last Exec (the
// engine reuses its batches).
type probeCounter struct {
	state.Store
	seen        map[*state.Batch]int
	probes, ops int64
}

func (p *probeCounter) Exec(ctx context.Context, b *state.Batch) error {
	n := b.IndexProbes()
	p.probes += int64(n - p.seen[b])
	p.seen[b] = n
	p.ops += int64(b.Len())
	return p.Store.Exec(ctx, b)
}
