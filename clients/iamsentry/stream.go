package iamsentry

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Result is the outcome for one record sent on a Stream: exactly one of
// Verdict and Err is set.
type Result struct {
	Tag     any      // the tag given to Send
	Record  []byte   // the record given to Send
	Verdict *Verdict // the server's verdict
	Err     error    // why the record gets no verdict
}

// Stats counts what a Stream did. Requests and Records count what was
// answered or failed, not resends.
type Stats struct {
	Records    int64 // records delivered on Results
	Requests   int64 // requests answered by the server
	Resent     int64 // requests sent again on a new gRPC stream
	Reconnects int64 // gRPC streams opened after a failure
	Failed     int64 // records delivered with an error
}

// Stream sends records to the service over one or more gRPC streams and
// delivers their results in Send order (see the package documentation for
// the delivery guarantees). Send, Flush and Close are safe for concurrent
// use; Results must be read until it is closed, from a goroutine other than
// the one blocked in Flush or Close.
type Stream struct {
	c      *Client
	ctx    context.Context
	cancel context.CancelCauseFunc

	lock   chan struct{} // a mutex that Send can give up waiting for
	cur    *batch
	bytes  int
	seq    uint64
	closed bool
	timer  *time.Timer

	lanes   []*lane
	lanesWG sync.WaitGroup
	order   chan *batch   // batches and flush markers in Send order
	slots   chan struct{} // one per batch between sealing and delivery
	results chan Result
	drained chan struct{} // closed once results is closed

	failed atomic.Pointer[error]
	stats  struct{ records, requests, resent, reconnects, failed atomic.Int64 }
}

// batch is one request's records, and later its answer.
type batch struct {
	seq      uint64
	records  [][]byte
	tags     []any
	verdicts []*Verdict
	err      error
	done     chan struct{} // closed when verdicts or err is set
	flushed  chan struct{} // non-nil for a flush marker, which carries no records
	slotless bool          // never sealed: holds no slot
}

func (b *batch) finish(verdicts []*Verdict, err error) {
	b.verdicts, b.err = verdicts, err
	close(b.done)
}

// NewStream opens a Stream whose gRPC streams live as long as ctx; cancel
// ctx to abandon it (unanswered records then get ctx's error). Always
// Close a Stream.
func (c *Client) NewStream(ctx context.Context) (*Stream, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	o := &c.opts
	held := o.window * o.streams
	s := &Stream{
		c: c, lock: make(chan struct{}, 1),
		order:   make(chan *batch, held),
		slots:   make(chan struct{}, held),
		results: make(chan Result, o.batch),
		drained: make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	for range o.streams {
		l := &lane{s: s, in: make(chan *batch, o.window)}
		s.lanes = append(s.lanes, l)
		s.lanesWG.Go(l.run)
	}
	go s.deliver()
	c.streams[s] = struct{}{}
	return s, nil
}

// Results delivers one Result per accepted record, in Send order. It is
// closed after Close, once every record has its Result.
func (s *Stream) Results() <-chan Result { return s.results }

// Stats returns the Stream's counters so far.
func (s *Stream) Stats() Stats {
	return Stats{
		Records: s.stats.records.Load(), Requests: s.stats.requests.Load(), Resent: s.stats.resent.Load(),
		Reconnects: s.stats.reconnects.Load(), Failed: s.stats.failed.Load(),
	}
}

func (s *Stream) acquire(ctx context.Context) error {
	select {
	case s.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Stream) release() { <-s.lock }

// err returns why the Stream cannot take records, or nil.
func (s *Stream) err() error {
	if p := s.failed.Load(); p != nil {
		return *p
	}
	if s.closed {
		return ErrClosed
	}
	return context.Cause(s.ctx)
}

// Send queues record for scoring with a tag of the caller's, returned with
// its Result. It blocks while the window is full (until ctx is done) and
// returns an error when the record was not accepted: then no Result will
// come for it. Send does not copy record; do not modify it until its Result
// arrives.
func (s *Stream) Send(ctx context.Context, record []byte, tag any) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	if err := s.err(); err != nil {
		return err
	}
	o := &s.c.opts
	if s.cur != nil && (len(s.cur.records) >= o.batch || s.bytes+len(record) > o.maxBatchBytes) {
		if err := s.seal(ctx); err != nil {
			return err
		}
	}
	if s.cur == nil {
		b := &batch{done: make(chan struct{})}
		s.cur, s.bytes = b, 0
		s.timer = time.AfterFunc(o.linger, func() { s.lingered(b) })
	}
	s.cur.records = append(s.cur.records, record)
	s.cur.tags = append(s.cur.tags, tag)
	s.bytes += len(record)
	if len(s.cur.records) >= o.batch {
		// The record is accepted even if sealing waits in vain: the batch
		// stays current and goes out with the next Send, Flush or Close.
		s.seal(ctx)
	}
	return nil
}

// lingered sends b if it is still the partial batch after the linger time.
func (s *Stream) lingered(b *batch) {
	if s.acquire(s.ctx) != nil {
		return
	}
	defer s.release()
	if s.cur == b {
		s.seal(s.ctx)
	}
}

// seal hands the current batch to a lane and to the deliverer, once a slot
// is free. The caller holds the lock.
func (s *Stream) seal(ctx context.Context) error {
	if s.cur == nil {
		return nil
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return context.Cause(s.ctx)
	}
	b := s.cur
	s.cur = nil
	s.timer.Stop()
	s.seq++
	b.seq = s.seq
	// Lanes take batches in turn, so the deliverer knows that batch n is
	// answered by lane n mod streams, and each lane keeps its own order.
	// A lane always drains its input (it fails batches it cannot send), so
	// these sends cannot block for ever.
	s.lanes[(b.seq-1)%uint64(len(s.lanes))].in <- b
	s.order <- b
	return nil
}

// Flush sends the partial batch and waits until every record sent before
// it has had its Result delivered, or ctx is done.
func (s *Stream) Flush(ctx context.Context) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	if s.closed {
		s.release()
		return ErrClosed
	}
	if err := s.seal(ctx); err != nil {
		s.release()
		return err
	}
	marker := &batch{flushed: make(chan struct{})}
	s.order <- marker
	s.release()
	select {
	case <-marker.flushed:
	case <-ctx.Done():
		return ctx.Err()
	}
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// Close sends what is left, waits until every accepted record has had its
// Result delivered (the Results channel is then closed), and ends the gRPC
// streams. If ctx ends first, the records still unanswered get ctx's error
// as their Result. Close returns the error that ended the Stream, if any.
func (s *Stream) Close(ctx context.Context) error {
	if err := s.acquire(ctx); err != nil {
		s.cancel(err)
		if err := s.acquire(context.Background()); err != nil {
			return err
		}
	}
	if s.closed {
		s.release()
		return ErrClosed
	}
	if err := s.seal(ctx); err != nil {
		s.cancel(err)
		s.abandon(err)
	}
	s.closed = true
	for _, l := range s.lanes {
		close(l.in)
	}
	close(s.order)
	s.release()

	var err error
	select {
	case <-s.drained:
	case <-ctx.Done():
		err = ctx.Err()
		s.cancel(err)
		<-s.drained
	}
	s.lanesWG.Wait()
	s.cancel(ErrClosed)
	s.c.mu.Lock()
	delete(s.c.streams, s)
	s.c.mu.Unlock()
	if p := s.failed.Load(); p != nil {
		return *p
	}
	return err
}

// abandon fails the partial batch that could not be sealed, so its
// accepted records still get their Results. The caller holds the lock.
func (s *Stream) abandon(err error) {
	b := s.cur
	if b == nil {
		return
	}
	s.cur = nil
	s.timer.Stop()
	b.slotless = true
	b.finish(nil, err)
	s.order <- b
}

// fail ends the Stream with err, the first error wins: the lanes stop and
// fail what they hold, and Send returns err from now on.
func (s *Stream) fail(err error) {
	s.failed.CompareAndSwap(nil, &err)
	s.cancel(err)
}

// deliver hands results to the caller in Send order and frees a batch's
// slot once its results are out.
func (s *Stream) deliver() {
	defer close(s.drained)
	defer close(s.results)
	for b := range s.order {
		if b.flushed != nil {
			close(b.flushed)
			continue
		}
		<-b.done
		for i, rec := range b.records {
			r := Result{Tag: b.tags[i], Record: rec, Err: b.err}
			if b.err == nil {
				r.Verdict = b.verdicts[i]
			} else {
				s.stats.failed.Add(1)
			}
			s.results <- r
		}
		s.stats.records.Add(int64(len(b.records)))
		if !b.slotless {
			<-s.slots
		}
	}
}
