package state_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/allocstest"
	"github.com/iamsentry/iamsentry/state"
)

// fillBatch queues n events' worth of operations of every kind the
// engine's scratch batch sees on b.
func fillBatch(b *state.Batch, keys []state.Key, n int) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	span := state.Span{From: at.Add(-time.Hour), To: at}
	for i := range n {
		k := keys[i%len(keys)]
		b.Claim(state.Key{Identity: k.Identity, Name: "claim"}, nil, time.Hour)
		b.WindowAddRead(k, "m", at, span, 4, time.Hour)
		b.WindowAdd(k, "m", at, span, time.Hour)
		b.WindowRead(k, span, 4)
		b.NoveltyAddBy(k, "m", "o", at, time.Hour)
		b.Mark(k, at, state.KeepLatest, time.Hour)
		b.ReadMark(k)
		b.BucketAdd(k, "m", at, time.Hour, 2, time.Hour)
		b.BucketRead(k, at, time.Hour, 2)
		b.Get(k)
		b.Put(k, nil, time.Hour)
	}
}

func batchKeys(n int) []state.Key {
	keys := make([]state.Key, n)
	for i := range keys {
		keys[i] = state.Key{Identity: fmt.Sprintf("principal:%d", i), Name: "n"}
	}
	return keys
}

// TestRecycleReusesStorage pins what Recycle is for: a batch recycled
// queues the same operations again without allocating, its operations'
// storage, its index and its list of operations all kept.
func TestRecycleReusesStorage(t *testing.T) {
	keys := batchKeys(50)
	var b state.Batch
	fillBatch(&b, keys, 300)
	b.Recycle()
	allocs := allocstest.Floor(5, func() {
		fillBatch(&b, keys, 300)
		b.Recycle()
	})
	if allocs != 0 {
		t.Errorf("refilling a recycled batch allocated %.1f times, want 0", allocs)
	}
	fillBatch(&b, keys, 3)
	if got, want := b.Len(), 3*11; got != want {
		t.Errorf("a recycled batch refilled holds %d operations, want %d", got, want)
	}
}

// TestResetKeepsFutures checks that Reset, unlike Recycle, leaves the
// futures it handed out alone: operations queued after it are stored
// elsewhere.
func TestResetKeepsFutures(t *testing.T) {
	keys := batchKeys(5)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var b state.Batch
	f := b.Mark(keys[0], at, state.KeepLatest, time.Hour)
	want := state.Mark{Set: true, At: at.Add(-time.Minute)}
	b.Ops()[0].(*state.MarkOp).Result.Resolve(want, nil)
	b.Reset()
	fillBatch(&b, keys, 100)
	b.FailAll(fmt.Errorf("later batch failed"))
	if got, err := f.Get(); err != nil || got != want {
		t.Errorf("a future from before Reset = %v, %v after the next batch; want %v, nil", got, err, want)
	}
}
