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
