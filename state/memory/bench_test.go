package memory_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// Shape of a realistic micro-batch: 256 CloudTrail events, each deduplicated
// by event id and fed to an enumeration window and a novelty set of its
// identity.
const (
	benchEvents     = 256
	benchIdentities = 64
	benchIDs        = 1 << 16 // distinct event ids before they repeat
)

type benchInput struct {
	ids        []string
	identities []string
	actions    []string
	countries  []string
	verdict    []byte
}

func newBenchInput() *benchInput {
	in := &benchInput{verdict: []byte(`{"verdict":"clean","findings":[]}`)}
	for i := range benchIDs {
		in.ids = append(in.ids, fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i*7919))
	}
	for i := range benchIdentities {
		in.identities = append(in.identities, fmt.Sprintf("AKIA%016d", i))
	}
	for i := range 40 {
		in.actions = append(in.actions, fmt.Sprintf("iam:List%02d", i))
	}
	in.countries = []string{"DE", "US", "FR", "NL", "IE", "JP", "BR"}
	return in
}

// batch queues the ops of events [first, first+benchEvents).
func (in *benchInput) batch(first int) *state.Batch {
	base := time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC)
	b := new(state.Batch)
	for e := first; e < first+benchEvents; e++ {
		at := base.Add(time.Duration(e) * 10 * time.Millisecond)
		id := in.identities[e%benchIdentities]
		b.Claim(state.Key{Tenant: "acme", Identity: in.ids[e%benchIDs], Name: "dedupe"}, in.verdict, time.Hour)
		b.WindowAdd(state.Key{Tenant: "acme", Identity: id, Name: "enum:actions"}, in.actions[e%len(in.actions)],
			at, state.Span{From: at.Add(-10 * time.Minute), To: at}, time.Hour)
		b.NoveltyAdd(state.Key{Tenant: "acme", Identity: id, Name: "novel:country"}, in.countries[e%len(in.countries)],
			at, 30*24*time.Hour)
	}
	return b
}

// BenchmarkExec measures one micro-batch of 256 events × 3 operations.
func BenchmarkExec(b *testing.B) {
	s := memory.New()
	defer s.Close()
	in := newBenchInput()
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		b.StopTimer()
		batch := in.batch(n * benchEvents)
		b.StartTimer()
		if err := s.Exec(ctx, batch); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*benchEvents*3), "ns/state-op")
}

// BenchmarkExecParallel runs micro-batches from every P at once, as many
// streams do on one replica: sharding should keep ns/op falling with P.
func BenchmarkExecParallel(b *testing.B) {
	s := memory.New()
	defer s.Close()
	in := newBenchInput()
	ctx := context.Background()
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			batch := in.batch(int(next.Add(1)) * benchEvents)
			if err := s.Exec(ctx, batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
