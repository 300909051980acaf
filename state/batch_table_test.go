package state_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// TestIndexAcrossGrowth checks the batch's index by key against a scan of
// every queued operation on batches of hundreds of keys, so that its table
// grows several times (and is reset) while the memo holds a key's slot:
// OnKey yields the key's operations latest first, LastWrite its latest
// write, and a read SharedWindowRead shares is one of the same key, span
// and limit that no write of the key follows.
func TestIndexAcrossGrowth(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	span := state.Span{From: at.Add(-time.Hour), To: at}
	keys := make([]state.Key, 400)
	for i := range keys {
		keys[i] = state.Key{Identity: fmt.Sprintf("arn:aws:iam::123456789012:user/u%03d", i/4), Name: fmt.Sprintf("n%d", i%4)}
	}
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 2))
		var b state.Batch
		shared := 0
		for step := range 3000 {
			key := keys[rng.IntN(len(keys))]
			where := fmt.Sprintf("seed %d step %d key %v", seed, step, key)
			switch rng.IntN(6) {
			case 0:
				b.Mark(key, at, state.KeepLatest, time.Hour)
			case 1:
				b.WindowAddRead(key, "m", at, span, 1, time.Hour)
			case 2:
				b.ReadMark(key)
			case 3:
				n := b.Len()
				got := b.SharedWindowRead(key, span, 1)
				if b.Len() == n {
					shared++
					if !sharable(b.Ops(), key, span, got) {
						t.Fatalf("%s: SharedWindowRead shared a read a write of the key follows, or of another read", where)
					}
				}
			case 4:
				if got, want := b.LastWrite(key), scanLastWrite(b.Ops(), key); got != want {
					t.Fatalf("%s: LastWrite = %v, want %v", where, got, want)
				}
			default:
				if got, want := slices.Collect(b.OnKey(key)), scanOnKey(b.Ops(), key); !slices.Equal(got, want) {
					t.Fatalf("%s: OnKey = %v, want %v", where, got, want)
				}
			}
			if rng.IntN(1000) == 0 {
				b.Reset()
			}
		}
		if shared == 0 {
			t.Fatalf("seed %d: no read was shared: the test does not exercise sharing", seed)
		}
	}
}

func scanOnKey(ops []state.Op, key state.Key) []state.Op {
	var on []state.Op
	for i := len(ops) - 1; i >= 0; i-- {
		if ops[i].Target() == key {
			on = append(on, ops[i])
		}
	}
	return on
}

func scanLastWrite(ops []state.Op, key state.Key) state.Op {
	for _, op := range scanOnKey(ops, key) {
		switch op.(type) {
		case *state.GetOp, *state.WindowReadOp, *state.ReadMarkOp, *state.BucketReadOp:
		default:
			return op
		}
	}
	return nil
}

// sharable reports whether f is the future of a window read of key over
// span with limit 1 that no write of key follows (the key's last write
// itself may be the read).
func sharable(ops []state.Op, key state.Key, span state.Span, f *state.Future[state.Window]) bool {
	for _, op := range scanOnKey(ops, key) {
		switch o := op.(type) {
		case *state.WindowReadOp:
			if &o.Result == f {
				return o.Span == span && o.Limit == 1
			}
		case *state.WindowAddReadOp:
			return &o.Result == f && o.Span == span && o.Limit == 1
		case *state.ReadMarkOp:
		default:
			return false
		}
	}
	return false
}

// TestLookUpThenQueue checks the detectors' pattern, a look-up of a key
// (LastWrite, SharedWindowRead, OnKey) and then a queue call on it, on
// which the memo answers the queue call: between the two, another key may
// be looked up and queued, the table may grow and move every slot, or a
// Reset may empty it. A third of the keys come in bytes of their own, so
// the memo answers for keys of its very strings (memo.holds) and for
// copies of them (digestKey). After each step the index must agree with a
// scan of the operations.
func TestLookUpThenQueue(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	span := state.Span{From: at.Add(-time.Hour), To: at}
	keys := make([]state.Key, 300)
	for i := range keys {
		keys[i] = state.Key{Identity: fmt.Sprintf("arn:aws:iam::123456789012:user/u%03d", i/3), Name: fmt.Sprintf("n%d", i%3)}
	}
	lookUp := func(b *state.Batch, k state.Key, how int) {
		switch how {
		case 0:
			b.LastWrite(k)
		case 1:
			b.SharedWindowRead(k, span, 1)
		default:
			for range b.OnKey(k) {
			}
		}
	}
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 3))
		var b state.Batch
		for step := range 2000 {
			k := keys[rng.IntN(len(keys))]
			if rng.IntN(3) == 0 { // the same key in bytes of its own
				k.Identity, k.Name = strings.Clone(k.Identity), strings.Clone(k.Name)
			}
			lookUp(&b, k, rng.IntN(3))
			if rng.IntN(4) == 0 { // another key in between
				other := keys[rng.IntN(len(keys))]
				lookUp(&b, other, rng.IntN(3))
				b.Mark(other, at, state.KeepLatest, time.Hour)
			}
			b.Mark(k, at, state.KeepEarliest, time.Hour)
			if step%100 == 0 {
				for _, key := range keys {
					if got, want := b.LastWrite(key), scanLastWrite(b.Ops(), key); got != want {
						t.Fatalf("seed %d step %d: LastWrite(%v) = %v, want %v", seed, step, key, got, want)
					}
				}
			}
			if got, want := slices.Collect(b.OnKey(k)), scanOnKey(b.Ops(), k); !slices.Equal(got, want) {
				t.Fatalf("seed %d step %d: OnKey(%v) = %v, want %v", seed, step, k, got, want)
			}
			if rng.IntN(500) == 0 {
				b.Reset()
			}
		}
	}
}
