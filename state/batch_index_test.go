package state_test

import (
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// TestOnKeyLatestFirst checks the batch's index by key: every operation on
// the key, latest first, none on another key, and nothing in a new batch.
func TestOnKeyLatestFirst(t *testing.T) {
	a := state.Key{Identity: "alice", Name: "m"}
	other := state.Key{Identity: "bob", Name: "m"}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var b state.Batch
	b.Mark(a, at, state.KeepLatest, time.Hour)
	b.Get(other)
	b.ReadMark(a)
	b.Put(other, []byte("x"), time.Hour)
	b.WindowAdd(a, "m", at, state.Span{From: at, To: at}, time.Hour)

	var got []state.Op
	for op := range b.OnKey(a) {
		got = append(got, op)
	}
	ops := b.Ops()
	if want := []state.Op{ops[4], ops[2], ops[0]}; !slices.Equal(got, want) {
		t.Fatalf("OnKey(a) = %v, want the operations 4, 2, 0: %v", got, want)
	}
	for op := range b.OnKey(a) {
		if op != ops[4] {
			t.Fatalf("OnKey went on after its consumer stopped: %v", op)
		}
		break
	}
	for op := range (&state.Batch{}).OnKey(a) {
		t.Fatalf("an empty batch yields %v", op)
	}
	for _, op := range ops {
		if op.Target() != a && op.Target() != other {
			t.Fatalf("%T targets %v", op, op.Target())
		}
	}
}

// TestClaimUniqueQueuedUnindexed checks ClaimUnique's contract: the claim
// is queued in its place among the batch's operations, like Claim's, but
// the index by key does not see it, and the chains of the keys around it
// run on past it.
func TestClaimUniqueQueuedUnindexed(t *testing.T) {
	a := state.Key{Identity: "alice", Name: "m"}
	c := state.Key{Identity: "event:1", Name: "verdict"}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var b state.Batch
	b.Mark(a, at, state.KeepLatest, time.Hour)
	claim := b.ClaimUnique(c, nil, time.Hour)
	b.ReadMark(a)

	ops := b.Ops()
	if len(ops) != 3 {
		t.Fatalf("%d operations queued, want 3", len(ops))
	}
	if o, ok := ops[1].(*state.ClaimOp); !ok || &o.Result != claim || o.Target() != c || o.TTL != time.Hour {
		t.Fatalf("operation 1 = %#v, want the claim of %v in its place", ops[1], c)
	}
	for op := range b.OnKey(c) {
		t.Errorf("OnKey(claimed key) yields %#v: a unique claim is not indexed", op)
	}
	if op := b.LastWrite(c); op != nil {
		t.Errorf("LastWrite(claimed key) = %#v, want nil", op)
	}
	if got, want := slices.Collect(b.OnKey(a)), []state.Op{ops[2], ops[0]}; !slices.Equal(got, want) {
		t.Errorf("OnKey(a) = %v, want %v: the claim between a's operations broke its chain", got, want)
	}
	if got := b.LastWrite(a); got != ops[0] {
		t.Errorf("LastWrite(a) = %#v, want its mark", got)
	}
}
