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

// opsPerBatch is how many operations of one kind a per-kind benchmark
// queues on each batch.
const opsPerBatch = 256

// benchKind measures one operation kind on a store that setup filled:
// every iteration executes a batch of opsPerBatch operations that queue
// builds (the n-th operation overall is queue's n). Allocations are those
// of Exec only; the batch is built with the timer stopped.
func benchKind(b *testing.B, setup func(*state.Batch), queue func(b *state.Batch, n int)) {
	s := memory.New(memory.WithSweepInterval(0))
	defer s.Close()
	ctx := context.Background()
	var pre state.Batch
	setup(&pre)
	if err := s.Exec(ctx, &pre); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		b.StopTimer()
		batch := new(state.Batch)
		for range opsPerBatch {
			queue(batch, n)
			n++
		}
		b.StartTimer()
		if err := s.Exec(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/state-op")
}

// Shapes of the per-kind benchmarks, close to what the detectors keep on
// the realistic corpus: identities with a few dozen keys, windows of a few
// dozen members read with a small limit, and one busy identity holding
// thousands of keys (a per-policy or per-bucket name for each target).
const (
	kindIdentities = 64
	kindNames      = 24   // keys of an ordinary identity
	busyNames      = 4096 // keys of the busy identity
	windowMembers  = 64   // members of a window over its TTL
)

var kindBase = time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC)

func kindKey(id, name int) state.Key {
	return state.Key{Tenant: "acme", Identity: fmt.Sprintf("arn:aws:iam::111122223333:user/u%03d", id),
		Name: fmt.Sprintf("det%02d:thing", name)}
}

// kindAt is the event time of operation n: a second apart, in order.
func kindAt(n int) time.Time { return kindBase.Add(time.Duration(n) * time.Second) }

// fillIdentities gives every identity kindNames marks and a value, the busy identity
// (number kindIdentities) busyNames of them, and each identity's window
// windowMembers members.
func fillIdentities(b *state.Batch) {
	for id := range kindIdentities {
		for name := range kindNames {
			b.Mark(kindKey(id, name), kindBase, state.KeepLatest, time.Hour)
		}
		b.Put(kindKey(id, kindNames), []byte(`{"verdict":"clean"}`), time.Hour)
		for m := range windowMembers {
			at := kindBase.Add(-time.Duration(windowMembers-m) * time.Second)
			b.WindowAdd(windowKey(id), fmt.Sprintf("iam:Action%03d", m), at, state.Span{From: at, To: at}, 24*time.Hour)
		}
	}
	for name := range busyNames {
		b.Mark(state.Key{Tenant: "acme", Identity: "busy", Name: fmt.Sprintf("policy:arn:aws:iam::111122223333:policy/p%05d", name)},
			kindBase, state.KeepLatest, time.Hour)
	}
}

func windowKey(id int) state.Key {
	return state.Key{Tenant: "acme", Identity: fmt.Sprintf("arn:aws:iam::111122223333:user/u%03d", id), Name: "enum:actions"}
}

func kindSpan(at time.Time) state.Span { return state.Span{From: at.Add(-10 * time.Minute), To: at} }

// BenchmarkOp measures each operation kind on its own (see benchKind).
func BenchmarkOp(b *testing.B) {
	val := []byte(`{"verdict":"clean","findings":[]}`)
	member := func(n int) string { return fmt.Sprintf("iam:Action%03d", n%(2*windowMembers)) }
	for _, c := range []struct {
		name  string
		queue func(b *state.Batch, n int)
	}{
		{"Claim", func(b *state.Batch, n int) {
			b.Claim(state.Key{Tenant: "acme", Identity: fmt.Sprintf("evt-%09d", n), Name: "dedupe"}, val, time.Hour)
		}},
		{"Put", func(b *state.Batch, n int) { b.Put(kindKey(n%kindIdentities, kindNames), val, time.Hour) }},
		{"Get", func(b *state.Batch, n int) { b.Get(kindKey(n%kindIdentities, kindNames)) }},
		{"Mark", func(b *state.Batch, n int) {
			b.Mark(kindKey(n%kindIdentities, n%kindNames), kindAt(n), state.KeepLatest, time.Hour)
		}},
		{"ReadMark", func(b *state.Batch, n int) { b.ReadMark(kindKey(n%kindIdentities, n%kindNames)) }},
		{"ReadMarkBusy", func(b *state.Batch, n int) {
			b.ReadMark(state.Key{Tenant: "acme", Identity: "busy", Name: fmt.Sprintf("policy:arn:aws:iam::111122223333:policy/p%05d", n%busyNames)})
		}},
		{"WindowAdd", func(b *state.Batch, n int) {
			b.WindowAdd(windowKey(n%kindIdentities), member(n), kindAt(n), kindSpan(kindAt(n)), 24*time.Hour)
		}},
		{"WindowAddRead", func(b *state.Batch, n int) {
			b.WindowAddRead(windowKey(n%kindIdentities), member(n), kindAt(n), kindSpan(kindAt(n)), 15, 24*time.Hour)
		}},
		{"WindowRead", func(b *state.Batch, n int) {
			b.WindowRead(windowKey(n%kindIdentities), state.Span{From: kindBase.Add(-time.Hour), To: kindAt(n)}, 12)
		}},
		{"WindowCount", func(b *state.Batch, n int) {
			b.WindowRead(windowKey(n%kindIdentities), state.Span{From: kindBase.Add(-time.Hour), To: kindAt(n)}, 0)
		}},
		{"NoveltyAdd", func(b *state.Batch, n int) {
			b.NoveltyAddBy(kindKey(n%kindIdentities, kindNames+1), member(n/kindIdentities), fmt.Sprintf("evt-%09d", n), kindAt(n), 30*24*time.Hour)
		}},
		{"BucketAdd", func(b *state.Batch, n int) {
			b.BucketAdd(kindKey(n%kindIdentities, kindNames+2), fmt.Sprintf("evt-%09d", n), kindAt(n), time.Hour, 24, 7*24*time.Hour)
		}},
		{"BucketRead", func(b *state.Batch, n int) {
			b.BucketRead(kindKey(n%kindIdentities, kindNames+2), kindAt(n), time.Hour, 24)
		}},
		{"Throttle", func(b *state.Batch, n int) {
			b.Throttle(kindKey(n%kindIdentities, kindNames+3), fmt.Sprintf("evt-%09d", n/kindIdentities), time.Minute)
		}},
	} {
		b.Run(c.name, func(b *testing.B) { benchKind(b, fillIdentities, c.queue) })
	}
}
