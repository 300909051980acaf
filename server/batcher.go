package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/iamsentry/iamsentry/engine"
)

// batcher merges the scoring work of many streams and calls into
// micro-batches, so one round trip to the state store serves many requests.
//
// Workers each take a job and every job already waiting, up to Size
// records, and score them at once: nothing waits for a batch to fill. Under
// load jobs queue up while the workers are busy (in the engine, or waiting
// on the state store's round trip), so batches grow with load by
// themselves, and a worker that frees up takes the whole queue (smart
// batching). Linger, when set, makes a worker also wait that long after its
// first job for more to arrive: fewer, larger batches at light traffic, for
// a little CPU, at the price of Linger added to every verdict's latency.
//
// BusyLinger is Nagle's rule for batches: a worker whose batch is small
// while another batch is being scored waits, up to BusyLinger, for a batch
// in flight to finish, taking the jobs that arrive meanwhile. With nothing in
// flight a batch goes at once (light traffic pays nothing); when batches
// overlap, each collects while the previous one is scored, so batches grow
// with the rate instead of staying at one event a batch. That matters on
// the record layout of Redis, where a batch rewrites every record it
// touches whatever the number of events in it: one-event batches cost the
// server and Redis several times the CPU per event of batches of ten, and
// at 5k events/s on two cores that CPU is what the tail queues for
// (docs/performance.md, "Latency at a fixed rate").
//
// The busy linger adapts to the store: a small batch waits at most twice
// the recent time a batch takes to score (cost), and never more than
// BusyLinger. On the embedded store a batch takes a few hundred
// microseconds, so the wait for one in flight stays that short even when
// the batch in flight is descheduled; on Redis, where a round trip and the
// record layout make batches cost milliseconds, it is BusyLinger.
//
// A stream never has more than one job in flight, so the records of one
// stream are scored in the order they arrived.
type batcher struct {
	eng *engine.Engine
	// scored, when set, receives the verdicts whose findings a scoring
	// (not learning) group hands out for the first time (engine.Batch's
	// Publish): the one place findings leave the scoring path, whichever
	// API the records came in by.
	scored func(tenant string, verdicts []engine.Verdict)
	jobs   chan *job
	size   int
	linger time.Duration
	// busyLinger caps the wait for a batch in flight to finish; 0: none.
	busyLinger time.Duration
	flight     flight
	cost       batchCost
	deadlines  *deadlines // bound each batch's engine calls by scoreTimeout
	done       chan struct{}
}

// batchCost is a moving average of how long a batch takes to score, what
// a small batch that waits for one in flight should expect to wait.
// Workers update it without a lock: a lost update only slows the average.
type batchCost struct{ ns atomic.Int64 }

// observe adds the duration of one batch, weighted 1/8.
func (c *batchCost) observe(d time.Duration) {
	old := c.ns.Load()
	if old == 0 {
		c.ns.Store(max(int64(d), 1))
		return
	}
	c.ns.Store(max(old+(int64(d)-old)/8, 1))
}

// wait caps limit at twice the average batch; before any batch is
// measured, limit.
func (c *batchCost) wait(limit time.Duration) time.Duration {
	ns := c.ns.Load()
	if ns == 0 {
		return limit
	}
	return min(limit, time.Duration(2*ns))
}

// flight counts the batches being scored and tells when the next one
// finishes: a worker that frees up is what a waiting batch waits for, so
// with many workers a batch waits for the first of them, not the last.
type flight struct {
	mu sync.Mutex
	n  int
	// left is closed when a batch leaves. It is made by the first busy
	// call that finds a batch in flight, so batches nobody waits for cost
	// no channel.
	left chan struct{}
}

func (f *flight) enter() {
	f.mu.Lock()
	f.n++
	f.mu.Unlock()
}

func (f *flight) leave() {
	f.mu.Lock()
	f.n--
	if f.left != nil {
		close(f.left)
		f.left = nil
	}
	f.mu.Unlock()
}

// busy returns a channel closed once a batch now in flight finishes, or
// nil when none is in flight.
func (f *flight) busy() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		return nil
	}
	if f.left == nil {
		f.left = make(chan struct{})
	}
	return f.left
}

// job is one caller's records waiting to be scored.
type job struct {
	ctx     context.Context
	tenant  string
	learn   bool
	records [][]byte
	result  chan jobResult // buffered, capacity 1
}

type jobResult struct {
	verdicts []engine.Verdict
	err      error
}

func newBatcher(eng *engine.Engine, workers, size int, linger, busyLinger time.Duration) *batcher {
	b := &batcher{eng: eng, jobs: make(chan *job), size: size, linger: linger, busyLinger: busyLinger, done: make(chan struct{})}
	b.deadlines = newDeadlines(scoreTimeout)
	go b.deadlines.watchdog(b.done)
	for range workers {
		go b.work()
	}
	return b
}

// jobs are pooled: a one-event request would otherwise pay a job and its
// result channel. A job goes back to the pool only once its result was
// taken; one abandoned by its caller (ctx done) may still be handed a
// result, so it is left to the garbage collector.
var jobPool = sync.Pool{New: func() any { return &job{result: make(chan jobResult, 1)} }}

// score submits records and waits for their verdicts.
func (b *batcher) score(ctx context.Context, tenant string, learn bool, records [][]byte) ([]engine.Verdict, error) {
	j := jobPool.Get().(*job)
	j.ctx, j.tenant, j.learn, j.records = ctx, tenant, learn, records
	select {
	case b.jobs <- j:
	case <-ctx.Done():
		j.recycle()
		return nil, ctx.Err()
	case <-b.done:
		j.recycle()
		return nil, errStopping
	}
	select {
	case r := <-j.result:
		j.recycle()
		return r.verdicts, r.err
	case <-ctx.Done():
		// The job may still be scored; retrying is safe (dedupe).
		return nil, ctx.Err()
	}
}

// recycle puts j, whose result channel is empty and which no worker holds,
// back in the pool.
func (j *job) recycle() {
	j.ctx, j.tenant, j.records = nil, "", nil
	jobPool.Put(j)
}

// stop ends the workers once they finish the batch in hand.
func (b *batcher) stop() { close(b.done) }

// worker is what one worker keeps from one batch to the next, so that a
// batch of one event costs no allocation of its own.
type worker struct {
	b     *batcher
	batch []*job
	// ctx bounds the batch in hand (see batchContext).
	ctx *batchContext
	// publish is w.publishFresh, made once: the engine's Publish of a
	// group of tenant's records. The engine calls it before Score returns.
	publish func(fresh []engine.Verdict)
	tenant  string
}

func (b *batcher) work() {
	w := &worker{b: b}
	w.publish = w.publishFresh
	for {
		select {
		case j := <-b.jobs:
			w.batch = b.gatherInto(append(w.batch[:0], j))
			b.flight.enter()
			start := time.Now()
			// The batch outlives any one caller: it is scored under a
			// context of its own, bounded so a stuck store cannot hold
			// a worker forever.
			w.ctx = b.deadlines.begin(w.ctx, start)
			w.run(w.batch)
			b.deadlines.end(w.ctx)
			b.cost.observe(time.Since(start))
			b.flight.leave()
			clear(w.batch) // hold no job the pool may hand out again
		case <-b.done:
			return
		}
	}
}

// publishFresh hands the verdicts with fresh findings of the group being
// scored, of w.tenant, to the batcher's scored.
func (w *worker) publishFresh(fresh []engine.Verdict) { w.b.scored(w.tenant, fresh) }

// gather collects jobs into one batch, starting with first: the jobs
// already waiting, then, if the batch is not full, those arriving within
// the linger, or, without a linger, while another batch is in flight (up
// to busyLinger).
func (b *batcher) gather(first *job) []*job { return b.gatherInto([]*job{first}) }

// gatherInto is gather appending to batch, which holds the first job.
func (b *batcher) gatherInto(batch []*job) []*job {
	n := len(batch[0].records)
	take := func(j *job) {
		batch = append(batch, j)
		n += len(j.records)
	}
	b.drain(take, &n)
	if n >= b.size {
		return batch
	}
	wait, freed := b.linger, (<-chan struct{})(nil)
	if wait <= 0 && b.busyLinger > 0 {
		if freed = b.flight.busy(); freed != nil {
			wait = b.cost.wait(b.busyLinger)
		}
	}
	if wait <= 0 {
		return batch
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for n < b.size {
		select {
		case j := <-b.jobs:
			take(j)
		case <-freed: // a nil channel (a timer linger) never fires
			b.drain(take, &n)
			return batch
		case <-t.C:
			return batch
		}
	}
	return batch
}

// drain takes the jobs already waiting, while *n is under the size.
func (b *batcher) drain(take func(*job), n *int) {
	for *n < b.size {
		select {
		case j := <-b.jobs:
			take(j)
		default:
			return
		}
	}
}

// group is what one engine call may mix: one tenant's records, all scored
// or all learned.
type group struct {
	tenant string
	learn  bool
}

// run scores a gathered batch, one engine call per group, and hands each
// job its verdicts. Jobs keep their order within a group; a batch of one
// group (the usual case) costs no map or extra slice.
func (w *worker) run(jobs []*job) {
	live := jobs[:0]
	for _, j := range jobs {
		if err := j.ctx.Err(); err != nil {
			j.result <- jobResult{err: err}
			continue
		}
		live = append(live, j)
	}
	for len(live) > 0 {
		g := group{live[0].tenant, live[0].learn}
		n := 0
		var rest []*job
		for _, j := range live {
			if (group{j.tenant, j.learn}) == g {
				live[n] = j
				n++
			} else {
				rest = append(rest, j)
			}
		}
		w.runGroup(g, live[:n])
		live = rest
	}
}

func (w *worker) runGroup(g group, jobs []*job) {
	var records [][]byte
	if len(jobs) == 1 {
		records = jobs[0].records
	} else {
		n := 0
		for _, j := range jobs {
			n += len(j.records)
		}
		records = make([][]byte, 0, n)
	}
	var links []trace.Link
	for _, j := range jobs {
		if len(jobs) > 1 {
			records = append(records, j.records...)
		}
		if l := trace.LinkFromContext(j.ctx); l.SpanContext.IsValid() {
			links = append(links, l)
		}
	}
	batch := engine.Batch{Tenant: g.tenant, Records: records, Learn: g.learn, Links: links}
	if !g.learn && w.b.scored != nil {
		w.tenant, batch.Publish = g.tenant, w.publish
	}
	verdicts, err := w.b.eng.Score(w.ctx, batch)
	for _, j := range jobs {
		if err != nil {
			j.result <- jobResult{err: err}
			continue
		}
		// Once its result is sent a job is its caller's again (and may be
		// recycled): read it before.
		n := len(j.records)
		j.result <- jobResult{verdicts: verdicts[:n:n]}
		verdicts = verdicts[n:]
	}
}

// scoreTimeout bounds the engine calls of one batch.
const scoreTimeout = 30 * time.Second
