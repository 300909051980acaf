package server

import (
	"testing"
	"time"
)

// TestBusyLingerAdaptsToBatchCost: the wait for a batch in flight is
// capped at twice the recent batch cost, so a cheap store (the embedded
// one) pays a fraction of BusyLinger even when the batch in flight stalls,
// and a costly one (Redis) keeps BusyLinger. Durations are fed, not timed.
func TestBusyLingerAdaptsToBatchCost(t *testing.T) {
	const limit = 2 * time.Millisecond
	for _, tc := range []struct {
		name    string
		batches []time.Duration
		want    time.Duration
	}{
		{"nothing measured yet: the limit", nil, limit},
		{"cheap batches: twice their cost", []time.Duration{100 * time.Microsecond}, 200 * time.Microsecond},
		{"costly batches: the limit", []time.Duration{5 * time.Millisecond}, limit},
		{"a stall moves the average an eighth", []time.Duration{100 * time.Microsecond, 900 * time.Microsecond}, 400 * time.Microsecond},
		{"zero-length batches still count as measured", []time.Duration{0}, 2 * time.Nanosecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c batchCost
			for _, d := range tc.batches {
				c.observe(d)
			}
			if got := c.wait(limit); got != tc.want {
				t.Errorf("wait(%v) after batches %v = %v, want %v", limit, tc.batches, got, tc.want)
			}
		})
	}
}

// TestGatherWaitIsCappedByBatchCost: with cheap batches measured, a small
// batch does not wait the busy linger (an hour here) for a batch in flight
// that does not finish; it goes after twice the batch cost.
func TestGatherWaitIsCappedByBatchCost(t *testing.T) {
	b := &batcher{jobs: make(chan *job), size: 512, busyLinger: time.Hour}
	b.cost.observe(time.Nanosecond)
	b.flight.enter()
	defer b.flight.leave()
	if batch := b.gather(&job{records: make([][]byte, 1)}); len(batch) != 1 {
		t.Errorf("batch of %d jobs, want 1 (nothing arrived; the wait is capped at 2ns, not the hour)", len(batch))
	}
}
