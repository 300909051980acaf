package server

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/state/memory"
)

// The caller scores its own job when no batch is in flight (scoreHere),
// pinned with a batcher that has no workers: a call that returns was
// scored in its caller's goroutine.

func inlineBatcher(t *testing.T) (*batcher, []byte) {
	t.Helper()
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	rec, err := os.ReadFile("testdata/get_caller_identity.json")
	if err != nil {
		t.Fatal(err)
	}
	return newBatcher(engine.New(reg, store, engine.Options{}), 0, 512, 0, 0), rec
}

// TestScoreWithNothingInFlightScoresInTheCaller: with nothing in flight
// a job needs no worker, and leaves nothing counted in flight.
func TestScoreWithNothingInFlightScoresInTheCaller(t *testing.T) {
	b, rec := inlineBatcher(t)
	defer b.stop()
	verdicts, err := b.score(context.Background(), "t", false, [][]byte{rec})
	if err != nil {
		t.Fatal(err)
	}
	if len(verdicts) != 1 {
		t.Fatalf("%d verdicts for 1 record", len(verdicts))
	}
	if b.flight.busy() != nil {
		t.Error("the caller's batch still counted in flight after it returned")
	}
}

// TestScoreWithABatchInFlightGoesToTheWorkers: while a batch is in flight
// a job is handed to the workers (here none, so it waits until its
// context ends), where the busy linger lets it collect others.
func TestScoreWithABatchInFlightGoesToTheWorkers(t *testing.T) {
	b, rec := inlineBatcher(t)
	defer b.stop()
	b.flight.enter()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.score(ctx, "t", false, [][]byte{rec}); !errors.Is(err, context.Canceled) {
		t.Errorf("score with a batch in flight and no worker: %v, want context.Canceled", err)
	}
}

// TestScoreWithALingerGoesToTheWorkers: a timer linger is a worker's to
// wait, so a batcher with one never scores in the caller.
func TestScoreWithALingerGoesToTheWorkers(t *testing.T) {
	b, rec := inlineBatcher(t)
	defer b.stop()
	b.linger = 1
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.score(ctx, "t", false, [][]byte{rec}); !errors.Is(err, context.Canceled) {
		t.Errorf("score with a linger and no worker: %v, want context.Canceled", err)
	}
}

// TestScoreTakesTheWaitingJobsAlong: a caller scoring its own job takes
// the jobs already waiting, as a worker would.
func TestScoreTakesTheWaitingJobsAlong(t *testing.T) {
	b, rec := inlineBatcher(t)
	defer b.stop()
	b.jobs = make(chan *job, 1)
	other := &job{ctx: context.Background(), tenant: "t", records: [][]byte{rec}, result: make(chan jobResult, 1)}
	b.jobs <- other
	if _, err := b.score(context.Background(), "t", false, [][]byte{rec}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-other.result:
		if r.err != nil || len(r.verdicts) != 1 {
			t.Errorf("the waiting job got %d verdicts, error %v; want 1, nil", len(r.verdicts), r.err)
		}
	default:
		t.Error("the waiting job was left behind by the caller's batch")
	}
}
