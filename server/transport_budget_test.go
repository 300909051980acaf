package server

import (
	"context"
	"testing"
	"time"
)

// TestByteBudget: acquire waits while the bytes do not fit and goes on
// when enough are released; a holder of nothing is let in whatever the
// size; a waiter gives up with its context.
func TestByteBudget(t *testing.T) {
	ctx := context.Background()
	b := newByteBudget(10)
	if err := b.acquire(ctx, 25); err != nil { // over the limit, but nothing held
		t.Fatalf("acquire 25 of an empty budget of 10: %v", err)
	}
	got := make(chan error, 1)
	go func() { got <- b.acquire(ctx, 5) }()
	select {
	case err := <-got:
		t.Fatalf("acquire 5 with 25 of 10 held returned %v; want it to wait", err)
	case <-time.After(50 * time.Millisecond):
	}
	b.release(25)
	if err := <-got; err != nil {
		t.Fatalf("acquire 5 after the release: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := b.acquire(short, 6); err == nil {
		t.Fatal("acquire 6 with 5 of 10 held succeeded; want it to wait until its context ends")
	}
	if b.used != 5 {
		t.Errorf("a waiter that gave up left %d bytes held; want 5", b.used)
	}
}

// TestReadAheadSharesProcessBudget: a stream's bytes count against the
// process too, and a stream that cannot take the process's bytes gives
// its own back.
func TestReadAheadSharesProcessBudget(t *testing.T) {
	ctx := context.Background()
	process := newByteBudget(10)
	a := readAhead{stream: newByteBudget(100), process: process}
	b := readAhead{stream: newByteBudget(100), process: process}
	if err := a.acquire(ctx, 8); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := b.acquire(short, 8); err == nil {
		t.Fatal("second stream took 8 bytes with 8 of the process's 10 held; want it to wait")
	}
	if b.stream.used != 0 {
		t.Errorf("stream that could not take the process's bytes holds %d of its own; want 0", b.stream.used)
	}
	a.release(8)
	if err := b.acquire(ctx, 8); err != nil {
		t.Fatal(err)
	}
}
