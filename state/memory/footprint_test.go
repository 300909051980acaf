package memory_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/corpus"
	"github.com/iamsentry/iamsentry/state/memory"
)

// floodRecords are n reads each by a new access key from a new address: the
// identity flood of issue 16, where every record makes state for an
// identity never seen again.
func floodRecords(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"eventVersion":"1.09","eventID":"f10d0000-0000-4000-8000-%012d",`+
			`"eventTime":"2024-09-01T12:%02d:%02dZ","eventSource":"iam.amazonaws.com","eventName":"ListUsers",`+
			`"awsRegion":"us-east-1","sourceIPAddress":"203.0.%d.%d","userAgent":"aws-cli/2.15.0",`+
			`"recipientAccountId":"111122223333","readOnly":true,"userIdentity":{"type":"IAMUser",`+
			`"principalId":"AIDAFLOOD%08d","arn":"arn:aws:iam::111122223333:user/flood%08d",`+
			`"accountId":"111122223333","accessKeyId":"AKIAFLOOD%011d","userName":"flood%08d"}}`,
			i, i/60%60, i%60, i/256%256, i%256, i, i, i, i)
	}
	return out
}

// footprint scores records through the engine with every built-in detector
// on a fresh store and returns the heap the store holds afterwards, and the
// store.
func footprint(tb testing.TB, recs [][]byte, opts ...memory.Option) (heap int64, s *memory.Store) {
	tb.Helper()
	s = memory.New(opts...)
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		tb.Fatal(err)
	}
	eng := engine.New(reg, s, engine.Options{})
	before := heapInUse()
	for i := 0; i < len(recs); i += 256 {
		if _, err := eng.Score(context.Background(), engine.Batch{Tenant: "acme", Records: recs[i:min(i+256, len(recs))]}); err != nil {
			tb.Fatal(err)
		}
	}
	return heapInUse() - before, s
}

// heapInUse is the live heap after a full collection.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// BenchmarkFootprint measures what the store holds per identity when the
// real detectors score an identity flood and an ordinary multi-identity
// corpus; run with -benchtime=1x.
func BenchmarkFootprint(b *testing.B) {
	var ordinary [][]byte
	for _, r := range corpus.Generate(corpus.Options{Seed: 3, Days: 8, Users: 400}) {
		ordinary = append(ordinary, r.JSON)
	}
	for _, c := range []struct {
		name string
		recs [][]byte
	}{{"flood", floodRecords(100_000)}, {"corpus", ordinary}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				heap, s := footprint(b, c.recs)
				st := s.Stats()
				b.ReportMetric(float64(heap)/float64(st.Identities), "heap-B/identity")
				b.ReportMetric(float64(st.Bytes)/float64(st.Identities), "accounted-B/identity")
				b.ReportMetric(float64(heap)/float64(st.Bytes), "heap/accounted")
				b.ReportMetric(float64(heap)/float64(len(c.recs)), "heap-B/record")
				b.ReportMetric(float64(st.Keys)/float64(st.Identities), "keys/identity")
				runtime.KeepAlive(s)
				s.Close()
			}
		})
	}
}
