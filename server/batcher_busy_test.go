package server

import (
	"testing"
	"time"
)

// The busy linger (Nagle's rule for batches), pinned without a clock: the
// linger is an hour, so a test that passes never waited for it.

// TestGatherGoesAtOnceWhenNothingIsInFlight: with no batch being scored, a
// batch is what already waits, however long the busy linger.
func TestGatherGoesAtOnceWhenNothingIsInFlight(t *testing.T) {
	b := &batcher{jobs: make(chan *job, 1), size: 512, busyLinger: time.Hour}
	b.jobs <- &job{records: make([][]byte, 1)}
	if batch := b.gather(&job{records: make([][]byte, 1)}); len(batch) != 2 {
		t.Errorf("batch of %d jobs, want 2 (the first and the one waiting; nothing in flight, so no wait)", len(batch))
	}
}

// TestGatherCollectsWhileABatchIsInFlight: while another batch is scored, a
// small batch takes every job that arrives, and goes as soon as that batch
// finishes.
func TestGatherCollectsWhileABatchIsInFlight(t *testing.T) {
	b := &batcher{jobs: make(chan *job), size: 512, busyLinger: time.Hour}
	b.flight.enter()
	got := make(chan []*job, 1)
	go func() { got <- b.gather(&job{records: make([][]byte, 1)}) }()
	for range 3 {
		b.jobs <- &job{records: make([][]byte, 1)} // unbuffered: taken only by a gather that waits
	}
	b.flight.leave()
	if batch := <-got; len(batch) != 4 {
		t.Errorf("batch of %d jobs, want 4 (the first and the 3 that arrived while another batch was in flight)", len(batch))
	}
	if b.flight.busy() != nil {
		t.Error("a batch still counted in flight after it left")
	}
}

// TestGatherStopsWaitingWhenFull: a batch that reaches the size goes,
// even with another batch still in flight.
func TestGatherStopsWaitingWhenFull(t *testing.T) {
	b := &batcher{jobs: make(chan *job), size: 3, busyLinger: time.Hour}
	b.flight.enter()
	defer b.flight.leave()
	got := make(chan []*job, 1)
	go func() { got <- b.gather(&job{records: make([][]byte, 1)}) }()
	for range 2 {
		b.jobs <- &job{records: make([][]byte, 1)}
	}
	if batch := <-got; len(batch) != 3 {
		t.Errorf("batch of %d jobs, want 3 (full at the size, so it goes without the batch in flight finishing)", len(batch))
	}
}

// TestGatherBusyLingerIsBounded: a batch in flight that does not finish
// holds a small batch back only for the busy linger, and a timer linger,
// when set, replaces the busy linger rather than adding to it.
func TestGatherBusyLingerIsBounded(t *testing.T) {
	b := &batcher{jobs: make(chan *job), size: 512, busyLinger: time.Nanosecond}
	b.flight.enter()
	defer b.flight.leave()
	if batch := b.gather(&job{records: make([][]byte, 1)}); len(batch) != 1 {
		t.Errorf("batch of %d jobs, want 1", len(batch))
	}
	b.linger, b.busyLinger = time.Nanosecond, time.Hour
	if batch := b.gather(&job{records: make([][]byte, 1)}); len(batch) != 1 {
		t.Errorf("batch of %d jobs with a timer linger, want 1", len(batch))
	}
}

// TestFlightSignalsTheFirstToLeave: with overlapping batches, a waiting
// batch is released when the first of them finishes (a worker is free),
// and again when the next does.
func TestFlightSignalsTheFirstToLeave(t *testing.T) {
	var f flight
	if f.busy() != nil {
		t.Fatal("busy with nothing in flight")
	}
	f.enter()
	f.enter()
	first := f.busy()
	f.leave()
	<-first // closed: a test that hangs here failed
	second := f.busy()
	if second == nil {
		t.Fatal("nothing in flight with one batch still scored")
	}
	select {
	case <-second:
		t.Fatal("signalled before the second batch left")
	default:
	}
	f.leave()
	<-second
	if f.busy() != nil {
		t.Error("busy after every batch left")
	}
}
