package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/allocstest"
)

// The watchdog is driven by hand here (expire with a chosen clock), so
// no test waits on a timer.
func TestBatchContextExpiresOnlyTheBatchThatOverran(t *testing.T) {
	d := newDeadlines(time.Minute)
	start := d.epoch.Add(time.Second)
	c := d.begin(nil, start)
	if dl, ok := c.Deadline(); !ok || !dl.Equal(start.Add(time.Minute)) {
		t.Fatalf("Deadline() = %v, %v; want the batch's start plus the timeout", dl, ok)
	}
	d.expire(int64(time.Minute)) // 59 s into the batch
	if c.Err() != nil {
		t.Fatalf("a batch within its timeout was expired: %v", c.Err())
	}
	d.expire(int64(time.Minute + time.Second))
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed for a batch past its timeout")
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err() = %v; want DeadlineExceeded", c.Err())
	}
	d.end(c)
	next := d.begin(c, start.Add(2*time.Minute))
	if next == c || next.Err() != nil {
		t.Fatal("the next batch got the expired context back; it must get a live one")
	}
	if len(d.ctxs) != 1 {
		t.Fatalf("the watchdog watches %d contexts; want 1 (the expired one forgotten)", len(d.ctxs))
	}
}

func TestBatchContextEndedIsNotExpired(t *testing.T) {
	d := newDeadlines(time.Minute)
	c := d.begin(nil, d.epoch.Add(time.Second))
	d.end(c)
	d.expire(int64(time.Hour))
	if c.Err() != nil {
		t.Fatal("a context between batches was expired")
	}
	if again := d.begin(c, d.epoch.Add(time.Hour)); again != c {
		t.Fatal("a live context was not reused for the worker's next batch")
	}
}

func TestBatchContextReuseAllocatesNothing(t *testing.T) {
	d := newDeadlines(scoreTimeout)
	c := d.begin(nil, time.Now())
	d.end(c)
	allocs := allocstest.Floor(100, func() {
		c = d.begin(c, time.Now())
		d.end(c)
	})
	if allocs != 0 {
		t.Fatalf("a batch's context costs %v allocations; want 0 (a worker reuses its own)", allocs)
	}
}
