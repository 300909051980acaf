package statetest

import (
	"context"
	"errors"
	"testing"

	"github.com/iamsentry/iamsentry/state"
)

// Lifecycle checks what every backend must do around its batches: after
// Close (twice is fine) Exec, its futures and Ping report
// state.ErrUnavailable, and a batch under a canceled context fails with
// context.Canceled on Exec and its futures. newStore must return a store of
// its own (Lifecycle closes it), ready to serve.
func Lifecycle(t *testing.T, newStore func(t *testing.T) state.Store) {
	t.Run("Closed", func(t *testing.T) {
		s := newStore(t)
		if err := s.Ping(context.Background()); err != nil {
			t.Fatalf("Ping while open: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		var b state.Batch
		f := b.Get(state.Key{Name: "k"})
		if err := s.Exec(context.Background(), &b); !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("Exec after Close = %v, want state.ErrUnavailable", err)
		}
		if _, err := f.Get(); !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("future after Close = %v, want state.ErrUnavailable", err)
		}
		if err := s.Ping(context.Background()); !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("Ping after Close = %v, want state.ErrUnavailable", err)
		}
	})
	t.Run("CanceledContext", func(t *testing.T) {
		s := newStore(t)
		defer s.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var b state.Batch
		f := b.Get(state.Key{Name: "k"})
		if err := s.Exec(ctx, &b); !errors.Is(err, context.Canceled) {
			t.Errorf("Exec with a canceled context = %v, want context.Canceled", err)
		}
		if _, err := f.Get(); !errors.Is(err, context.Canceled) {
			t.Errorf("future = %v, want context.Canceled", err)
		}
	})
}
