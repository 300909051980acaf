package state_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// walkSharedRead is SharedWindowRead as it was written before the batch
// indexed its reads: a walk back over the key's operations to its last
// write. SharedWindowRead must find exactly what it found.
func walkSharedRead(b *state.Batch, key state.Key, span state.Span, limit int) *state.Future[state.Window] {
	same := func(s state.Span) bool { return s.From.Equal(span.From) && s.To.Equal(span.To) }
	for op := range b.OnKey(key) {
		switch o := op.(type) {
		case *state.WindowReadOp:
			if same(o.Span) && o.Limit == limit {
				return &o.Result
			}
		case *state.WindowAddReadOp:
			if same(o.Span) && o.Limit == limit {
				return &o.Result
			}
			return nil
		case *state.ReadMarkOp, *state.BucketReadOp, *state.GetOp:
		default:
			return nil // a write: nothing before it answers for a read after it
		}
	}
	return nil
}

// TestSharedWindowReadIsTheWalk checks SharedWindowRead against the walk
// on random batches over two keys: every shared read is the one the walk
// finds (the same future), and a read the walk would queue is queued, so
// the batch holds the same operations either way. Spans repeat the same
// instants in another location, which must not stop the sharing.
func TestSharedWindowReadIsTheWalk(t *testing.T) {
	base := time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)
	elsewhere := time.FixedZone("elsewhere", 5*3600)
	keys := []state.Key{{Identity: "alice", Name: "w"}, {Identity: "alice", Name: "v"}, {Tenant: "t", Identity: "alice", Name: "w"}}
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var b state.Batch
		shared := 0
		for step := range 200 {
			key := keys[rng.IntN(len(keys))]
			from := base.Add(time.Duration(rng.IntN(4)) * time.Minute)
			if rng.IntN(2) == 0 {
				from = from.In(elsewhere)
			}
			span := state.Span{From: from, To: from.Add(time.Duration(1+rng.IntN(2)) * time.Hour)}
			limit := rng.IntN(2)
			where := fmt.Sprintf("seed %d step %d", seed, step)
			switch rng.IntN(8) {
			case 0:
				b.WindowAdd(key, "m", base, span, time.Hour)
			case 1:
				b.WindowAddRead(key, "m", base, span, limit, time.Hour)
			case 2:
				b.ReadMark(key)
			case 3:
				b.WindowRead(key, span, limit) // queued as is: not every caller shares
			default:
				want := walkSharedRead(&b, key, span, limit)
				n := b.Len()
				got := b.SharedWindowRead(key, span, limit)
				switch {
				case want != nil && got != want:
					t.Fatalf("%s: SharedWindowRead(%v, %v, %d) = %p, want the read the walk finds, %p", where, key, span, limit, got, want)
				case want != nil && b.Len() != n:
					t.Fatalf("%s: SharedWindowRead queued a read the walk shares", where)
				case want == nil && b.Len() != n+1:
					t.Fatalf("%s: SharedWindowRead queued %d operations where the walk queues one", where, b.Len()-n)
				case want == nil:
					op, ok := b.Ops()[n].(*state.WindowReadOp)
					if !ok || op.Key != key || op.Span != span || op.Limit != limit || &op.Result != got {
						t.Fatalf("%s: SharedWindowRead queued %#v, want a read of %v over %v limit %d", where, b.Ops()[n], key, span, limit)
					}
				default:
					shared++
				}
			}
			if rng.IntN(100) == 0 {
				b.Reset()
			}
		}
		if shared == 0 {
			t.Fatalf("seed %d: no read was shared: the test does not exercise sharing", seed)
		}
	}
}

// walkLastWrite is LastWrite as the detectors' helpers found it before
// the batch kept it: the first operation on key, latest first, that is
// not a read.
func walkLastWrite(b *state.Batch, key state.Key) state.Op {
	for op := range b.OnKey(key) {
		switch op.(type) {
		case *state.GetOp, *state.WindowReadOp, *state.ReadMarkOp, *state.BucketReadOp:
		default:
			return op
		}
	}
	return nil
}

// TestLastWriteIsTheWalk checks LastWrite against the walk on random
// batches of every kind of operation over three keys of one identity.
func TestLastWriteIsTheWalk(t *testing.T) {
	at := time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)
	span := state.Span{From: at, To: at.Add(time.Hour)}
	keys := []state.Key{{Identity: "alice", Name: "w"}, {Identity: "alice", Name: "v"}, {Tenant: "t", Identity: "alice", Name: "w"}}
	queue := []func(b *state.Batch, k state.Key){
		func(b *state.Batch, k state.Key) { b.Claim(k, nil, time.Hour) },
		func(b *state.Batch, k state.Key) { b.Put(k, nil, time.Hour) },
		func(b *state.Batch, k state.Key) { b.Get(k) },
		func(b *state.Batch, k state.Key) { b.WindowAdd(k, "m", at, span, time.Hour) },
		func(b *state.Batch, k state.Key) { b.WindowAddRead(k, "m", at, span, 1, time.Hour) },
		func(b *state.Batch, k state.Key) { b.WindowRead(k, span, 1) },
		func(b *state.Batch, k state.Key) { b.SharedWindowRead(k, span, 1) },
		func(b *state.Batch, k state.Key) { b.NoveltyAdd(k, "m", at, time.Hour) },
		func(b *state.Batch, k state.Key) { b.Mark(k, at, state.KeepLatest, time.Hour) },
		func(b *state.Batch, k state.Key) { b.ReadMark(k) },
		func(b *state.Batch, k state.Key) { b.BucketAdd(k, "m", at, time.Hour, 2, time.Hour) },
		func(b *state.Batch, k state.Key) { b.BucketRead(k, at, time.Hour, 2) },
		func(b *state.Batch, k state.Key) { b.Throttle(k, "o", time.Hour) },
	}
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 2))
		var b state.Batch
		found := 0
		for step := range 100 {
			queue[rng.IntN(len(queue))](&b, keys[rng.IntN(len(keys))])
			for _, k := range keys {
				want := walkLastWrite(&b, k)
				if got := b.LastWrite(k); got != want {
					t.Fatalf("seed %d step %d: LastWrite(%v) = %#v, want the walk's %#v", seed, step, k, got, want)
				}
				if want != nil {
					found++
				}
			}
		}
		if found == 0 {
			t.Fatalf("seed %d: no key was ever written: the test compares nothing", seed)
		}
	}
}

// TestSharedWindowReadAfterReset checks that Reset forgets the reads: a
// read queued before it is never shared after it.
func TestSharedWindowReadAfterReset(t *testing.T) {
	key := state.Key{Identity: "alice", Name: "w"}
	at := time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)
	span := state.Span{From: at, To: at.Add(time.Hour)}
	var b state.Batch
	first := b.SharedWindowRead(key, span, 1)
	if again := b.SharedWindowRead(key, span, 1); again != first || b.Len() != 1 {
		t.Fatalf("a second read of the same span in the batch = %p with %d operations, want the first, %p, and 1", again, b.Len(), first)
	}
	b.Reset()
	if after := b.SharedWindowRead(key, span, 1); after == first || b.Len() != 1 {
		t.Fatalf("a read after Reset = %p with %d operations, want a new one queued", after, b.Len())
	}
}
