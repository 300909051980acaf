package memory_test

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"

	"github.com/iamsentry/iamsentry/state/memory"
)

// heapFigures reads, after two full collections, the live heap, its
// objects and the bytes of it the collector scans (pointer-holding
// memory): what marking costs at every cycle.
func heapFigures() (live, objects, scan uint64) {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/objects:objects"}, {Name: "/gc/scan/heap:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64()
}

// BenchmarkHeapRealistic fills a store with the state operations of the
// realistic month and reports what the store then holds per event: live
// heap bytes, heap objects and scannable bytes (the collector's marking
// work at every cycle; a scan's GC share follows it). The figures depend
// on the operations alone, not on the machine's load.
func BenchmarkHeapRealistic(b *testing.B) {
	events, ops := realisticOps(b)
	ctx := context.Background()
	var live, objects, scan float64
	// The timer runs through the whole pass, collections included: with
	// it stopped around them, as it once was, the timed part of a pass
	// was near nothing, so the default -benchtime asked for passes by the
	// thousand, each a month of state and four full collections. Timed,
	// one second of -benchtime is one pass or two; ns/op means nothing
	// here and is reported as 0.
	for b.Loop() {
		batches := queueAll(ops)
		s := memory.New(memory.WithSweepInterval(0))
		for _, batch := range batches {
			if err := s.Exec(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		batches = nil
		l1, o1, s1 := heapFigures()
		runtime.KeepAlive(s)
		s.Close()
		s = nil
		l0, o0, s0 := heapFigures()
		live += float64(l1) - float64(l0)
		objects += float64(o1) - float64(o0)
		scan += float64(s1) - float64(s0)
	}
	n := float64(events * b.N)
	b.ReportMetric(live/n, "heap-B/event")
	b.ReportMetric(objects/n, "objects/event")
	b.ReportMetric(scan/n, "scan-B/event")
	b.ReportMetric(0, "ns/op")
}
