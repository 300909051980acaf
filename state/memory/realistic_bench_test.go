package memory_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpusrules"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpustest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// recorder is a Store that keeps a copy of every operation the engine
// queues, batch by batch, and executes it on a memory store, so that the
// engine sees real answers and queues what it would in a scan.
type recorder struct {
	state.Store
	batches [][]state.Op
}

func (r *recorder) Exec(ctx context.Context, b *state.Batch) error {
	ops := make([]state.Op, 0, b.Len())
	for _, op := range b.Ops() {
		ops = append(ops, copyOp(op))
	}
	r.batches = append(r.batches, ops)
	return r.Store.Exec(ctx, b)
}

// copyOp returns op's operation alone, its future unresolved.
func copyOp(op state.Op) state.Op {
	switch o := op.(type) {
	case *state.ClaimOp:
		return &state.ClaimOp{Key: o.Key, Value: o.Value, TTL: o.TTL}
	case *state.PutOp:
		return &state.PutOp{Key: o.Key, Value: o.Value, TTL: o.TTL}
	case *state.GetOp:
		return &state.GetOp{Key: o.Key}
	case *state.WindowAddOp:
		return &state.WindowAddOp{Key: o.Key, Member: o.Member, At: o.At, Count: o.Count, TTL: o.TTL}
	case *state.WindowAddReadOp:
		return &state.WindowAddReadOp{Key: o.Key, Member: o.Member, At: o.At, Span: o.Span, Limit: o.Limit, TTL: o.TTL}
	case *state.WindowPairAddReadOp:
		return &state.WindowPairAddReadOp{Key: o.Key, Members: o.Members, At: o.At, Spans: o.Spans, Limit: o.Limit, TTL: o.TTL}
	case *state.WindowReadOp:
		return &state.WindowReadOp{Key: o.Key, Span: o.Span, Limit: o.Limit}
	case *state.NoveltyAddOp:
		return &state.NoveltyAddOp{Key: o.Key, Member: o.Member, Owner: o.Owner, At: o.At, TTL: o.TTL}
	case *state.MarkOp:
		return &state.MarkOp{Key: o.Key, At: o.At, Keep: o.Keep, TTL: o.TTL}
	case *state.ReadMarkOp:
		return &state.ReadMarkOp{Key: o.Key}
	case *state.BucketAddOp:
		return &state.BucketAddOp{Key: o.Key, Member: o.Member, At: o.At, Width: o.Width, History: o.History, TTL: o.TTL}
	case *state.BucketReadOp:
		return &state.BucketReadOp{Key: o.Key, At: o.At, Width: o.Width, History: o.History}
	case *state.ThrottleOp:
		return &state.ThrottleOp{Key: o.Key, Owner: o.Owner, TTL: o.TTL}
	}
	panic(fmt.Sprintf("copyOp: operation %T unknown to the benchmark", op))
}

// queue queues a copy of op on b.
func queue(b *state.Batch, op state.Op) {
	switch o := op.(type) {
	case *state.ClaimOp:
		b.Claim(o.Key, o.Value, o.TTL)
	case *state.PutOp:
		b.Put(o.Key, o.Value, o.TTL)
	case *state.GetOp:
		b.Get(o.Key)
	case *state.WindowAddOp:
		b.WindowAdd(o.Key, o.Member, o.At, o.Count, o.TTL)
	case *state.WindowAddReadOp:
		b.WindowAddRead(o.Key, o.Member, o.At, o.Span, o.Limit, o.TTL)
	case *state.WindowPairAddReadOp:
		b.WindowPairAddRead(o.Key, o.Members, o.At, o.Spans, o.Limit, o.TTL)
	case *state.WindowReadOp:
		b.WindowRead(o.Key, o.Span, o.Limit)
	case *state.NoveltyAddOp:
		b.NoveltyAddBy(o.Key, o.Member, o.Owner, o.At, o.TTL)
	case *state.MarkOp:
		b.Mark(o.Key, o.At, o.Keep, o.TTL)
	case *state.ReadMarkOp:
		b.ReadMark(o.Key)
	case *state.BucketAddOp:
		b.BucketAdd(o.Key, o.Member, o.At, o.Width, o.History, o.TTL)
	case *state.BucketReadOp:
		b.BucketRead(o.Key, o.At, o.Width, o.History)
	case *state.ThrottleOp:
		b.Throttle(o.Key, o.Owner, o.TTL)
	}
}

var realistic struct {
	once    sync.Once
	events  int
	batches [][]state.Op
}

// realisticOps returns the operations the engine queues scoring a month
// of a realistic account (as BenchmarkScoreRealistic does), batch by batch.
func realisticOps(b *testing.B) (events int, batches [][]state.Op) {
	realistic.once.Do(func() {
		c := realcorpus.Generate(realcorpus.Options{Seed: 1})
		built := realcorpusrules.Build(b)
		rec := &recorder{Store: memory.New(memory.WithSweepInterval(0))}
		defer rec.Store.Close()
		eng := engine.New(built.Registry, rec, engine.Options{Suppress: built.Suppress})
		raws := make([][]byte, 0, 512)
		for off := 0; off < len(c.Records); off += 512 {
			raws = raws[:0]
			for _, r := range c.Records[off:min(off+512, len(c.Records))] {
				raws = append(raws, r.JSON)
			}
			if _, err := eng.Score(context.Background(), engine.Batch{Records: raws}); err != nil {
				b.Fatal(err)
			}
		}
		realistic.events, realistic.batches = len(c.Records), rec.batches
	})
	return realistic.events, realistic.batches
}

// queueAll queues copies of ops on fresh batches, one per batch of ops.
func queueAll(ops [][]state.Op) []*state.Batch {
	batches := make([]*state.Batch, len(ops))
	for i, o := range ops {
		batches[i] = new(state.Batch)
		for _, op := range o {
			queue(batches[i], op)
		}
	}
	return batches
}

// shardLocks is how many times Exec takes a shard's lock for ops: once
// per run of operations on one shard.
func shardLocks(ops []state.Op) int {
	n, last := 0, -1
	for _, op := range ops {
		if sh := memory.ShardOf(op.Target()); sh != last {
			n, last = n+1, sh
		}
	}
	return n
}

// BenchmarkExecRealistic executes on a fresh store, one pass a month, the
// state operations the engine queues for the realistic corpus: the
// embedded store's share of BenchmarkScoreRealistic alone. It reports the
// process's CPU time per event while the store executes (GC included;
// wall time on a shared machine measures the queue for a core) and the
// store's allocations and shard locks per event, which noise cannot move.
func BenchmarkExecRealistic(b *testing.B) {
	events, ops := realisticOps(b)
	total, locks := 0, 0
	for _, batch := range ops {
		total += len(batch)
		locks += shardLocks(batch)
	}
	ctx := context.Background()
	var mallocs, bytes uint64
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		batches := queueAll(ops)
		s := memory.New(memory.WithSweepInterval(0))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		cpu0 := realcorpustest.CPUTime(b)
		b.StartTimer()
		for _, batch := range batches {
			if err := s.Exec(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		cpu += realcorpustest.CPUTime(b) - cpu0
		runtime.ReadMemStats(&after)
		mallocs += after.Mallocs - before.Mallocs
		bytes += after.TotalAlloc - before.TotalAlloc
		s.Close()
		b.StartTimer()
	}
	n := float64(events * b.N)
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "CPU-ns/event")
	b.ReportMetric(float64(total)/float64(events), "ops/event")
	b.ReportMetric(float64(locks)/float64(events), "locks/event")
	b.ReportMetric(float64(mallocs)/n, "allocs/event")
	b.ReportMetric(float64(bytes)/n, "B/event")
	b.ReportMetric(0, "ns/op")
}
