package detectors_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// BenchmarkWindowReadBusyPrincipal queues the reads of a busy principal's
// discovery calls in one micro-batch: each reads the probe set over a span
// of its own event time, so no read shares another's, after one write of
// the key. A walk over the earlier reads made the cost per read grow with
// the calls per batch; a lookup keeps it flat.
func BenchmarkWindowReadBusyPrincipal(b *testing.B) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	key := state.Key{Identity: "arn:aws:iam::123456789012:user/busy", Name: "recon:probe:0"}
	for _, calls := range []int{16, 128, 512} {
		b.Run(fmt.Sprintf("calls=%d", calls), func(b *testing.B) {
			var batch state.Batch
			b.ReportAllocs()
			for b.Loop() {
				batch.Reset()
				batch.WindowAdd(key, "probe", at, state.Span{From: at, To: at.Add(time.Hour)}, time.Hour)
				for i := range calls {
					t := at.Add(time.Duration(i) * time.Second)
					detectors.WindowRead(&batch, key, state.Span{From: t.Add(-time.Hour), To: t.Add(time.Hour)}, 3)
				}
				if batch.Len() != calls+1 {
					b.Fatalf("%d operations queued, want the write and %d reads", batch.Len(), calls)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*calls), "ns/read")
		})
	}
}
