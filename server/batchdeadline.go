package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// batchContext is the context a worker scores its batches under: no
// values, no parent, and a deadline scoreTimeout after the batch in hand
// started, so a stuck store cannot hold a worker forever.
//
// It stands for context.WithTimeout(context.Background(), scoreTimeout),
// which cost three allocations and a runtime timer set and stopped per
// batch; in the open loop a batch holds one to three events, so that was
// paid nearly per event. A worker reuses one batchContext from batch to
// batch, and a watchdog (see deadlines) closes Done of one whose batch
// overran: the deadline is enforced within deadlineTick of its time
// instead of on it, which for a 30 s bound on a stuck store is the same
// thing. A batchContext that fired is never reused: its worker takes a new
// one for its next batch.
//
// Not a context package type, so a context.WithCancel or WithTimeout
// derived from it watches its Done from a goroutine of its own (the
// package's propagateCancel for a foreign parent) until either ends.
// Nothing on the scoring path derives one today (engine, state and the
// detectors add values at most); a store that starts to should be
// measured against this.
type batchContext struct {
	// start is when the batch in hand started (nanoseconds since the
	// watchdog's epoch); 0 while the worker is between batches, expired
	// once the watchdog fired. The worker and the watchdog change it by
	// compare-and-swap, so the watchdog can only expire the batch it
	// looked at, never the next one.
	start    atomic.Int64
	deadline time.Time // written by the worker before the batch, read during it
	done     chan struct{}
}

// expired is start's value once the watchdog closed done.
const expired = -1

var _ context.Context = (*batchContext)(nil)

// Deadline implements context.Context.
func (c *batchContext) Deadline() (time.Time, bool) { return c.deadline, true }

// Done implements context.Context.
func (c *batchContext) Done() <-chan struct{} { return c.done }

// Err implements context.Context.
func (c *batchContext) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// Value implements context.Context: a batch carries no values.
func (*batchContext) Value(any) any { return nil }

// deadlines hands out the workers' batch contexts and expires those whose
// batch has run longer than timeout.
type deadlines struct {
	epoch   time.Time
	timeout time.Duration
	mu      sync.Mutex
	ctxs    map[*batchContext]struct{} // the workers' contexts
}

// deadlineTick is how often the watchdog looks for batches past their
// deadline: how late, at most, one is told.
const deadlineTick = time.Second

// newDeadlines returns the deadlines of batches bounded by timeout; its
// watchdog runs once started (go d.watchdog(stop)).
func newDeadlines(timeout time.Duration) *deadlines {
	return &deadlines{epoch: time.Now(), timeout: timeout, ctxs: make(map[*batchContext]struct{})}
}

// begin returns the context for a batch starting at now, reusing c (the
// worker's context of its previous batch) unless it is nil or expired.
func (d *deadlines) begin(c *batchContext, now time.Time) *batchContext {
	if c == nil || c.start.Load() == expired {
		c = &batchContext{done: make(chan struct{})}
		d.mu.Lock()
		d.ctxs[c] = struct{}{}
		d.mu.Unlock()
	}
	c.deadline = now.Add(d.timeout)
	c.start.Store(max(int64(now.Sub(d.epoch)), 1))
	return c
}

// end marks c's batch finished; a context the watchdog expired meanwhile
// is forgotten, and begin replaces it.
func (d *deadlines) end(c *batchContext) {
	if s := c.start.Load(); s == expired || !c.start.CompareAndSwap(s, 0) {
		d.mu.Lock()
		delete(d.ctxs, c)
		d.mu.Unlock()
	}
}

// watchdog expires, every deadlineTick, the batches in hand that started
// more than timeout ago, until stop is closed.
func (d *deadlines) watchdog(stop <-chan struct{}) {
	t := time.NewTicker(deadlineTick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			d.expire(int64(time.Since(d.epoch)))
		}
	}
}

// expire closes done of every context whose batch started before now
// (since the epoch) minus the timeout.
func (d *deadlines) expire(now int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for c := range d.ctxs {
		s := c.start.Load()
		if s > 0 && now-s >= int64(d.timeout) && c.start.CompareAndSwap(s, expired) {
			close(c.done)
		}
	}
}
