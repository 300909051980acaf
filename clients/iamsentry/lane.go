package iamsentry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// lane drives one gRPC Score stream at a time for a Stream: it sends the
// batches dealt to it, keeps at most a window of them unanswered, matches
// responses to them, and on a broken stream opens another and resends
// what is unanswered. Only the lane's goroutine touches pending.
type lane struct {
	s        *Stream
	in       chan *batch
	pending  []*batch // sent, unanswered, in send order
	inClosed bool
}

func (l *lane) run() {
	var r retries
	for {
		if len(l.pending) == 0 && !l.next() {
			return
		}
		progress, err := l.session(r.attempt > 0)
		if progress {
			r.attempt = 0
		}
		if err != nil && !l.reconnect(err, &r) {
			return
		}
	}
}

// retries counts the sessions that failed in a row, since a time.
type retries struct {
	attempt      int
	failingSince time.Time
}

// reconnect handles err, which ended a session, and reports whether the
// lane opens another one, after a backoff if err is worth retrying. When it
// does not, the lane has failed everything it holds.
func (l *lane) reconnect(err error, r *retries) bool {
	s, o := l.s, &l.s.c.opts
	if s.ctx.Err() != nil {
		l.failAll(context.Cause(s.ctx))
		return false
	}
	switch classify(status.Code(err)) {
	case rejectHead:
		l.rejectHead(err)
		return true
	case fatal:
		s.fail(err)
		l.failAll(err)
		return false
	}
	if r.attempt == 0 {
		r.failingSince = time.Now()
	}
	if o.giveUp > 0 && time.Since(r.failingSince) > o.giveUp {
		err = fmt.Errorf("%w after %v: %w", ErrGaveUp, o.giveUp, err)
		s.fail(err)
		l.failAll(err)
		return false
	}
	r.attempt++
	delay := backoffDelay(o.backoffBase, o.backoffMax, r.attempt)
	o.logger.Warn("iamsentry stream broken; reconnecting", slog.Any("error", err),
		slog.Int("attempt", r.attempt), slog.Duration("delay", delay), slog.Int("unanswered", len(l.pending)))
	if !l.sleep(delay) {
		l.failAll(context.Cause(s.ctx))
		return false
	}
	s.stats.reconnects.Add(1)
	return true
}

// next waits for a batch to send, so an idle lane holds no stream open
// across failures. It returns false when the input is closed and drained.
func (l *lane) next() bool {
	select {
	case b, ok := <-l.in:
		if !ok {
			return false
		}
		l.pending = append(l.pending, b)
		return true
	case <-l.s.ctx.Done():
		l.failAll(context.Cause(l.s.ctx))
		return false
	}
}

func (l *lane) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.s.ctx.Done():
		return false
	}
}

// backoffDelay is base·2^(attempt-1), at most max, with ±20% jitter so
// clients cut off together do not come back together.
func backoffDelay(base, max time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func (l *lane) rejectHead(err error) {
	if len(l.pending) == 0 {
		return
	}
	b := l.pending[0]
	l.pending = l.pending[1:]
	l.s.c.opts.logger.Warn("iamsentry request refused", slog.Any("error", err), slog.Int("records", len(b.records)))
	b.finish(nil, &RequestError{Records: len(b.records), Err: err})
}

// failAll fails every batch the lane holds or will be given: the Stream is
// over, and each accepted record must still get its Result.
func (l *lane) failAll(err error) {
	for _, b := range l.pending {
		b.finish(nil, err)
	}
	l.pending = nil
	if l.inClosed {
		return
	}
	for b := range l.in {
		b.finish(nil, err)
	}
	l.inClosed = true
}

// session runs one gRPC stream: resends what is unanswered, then sends new
// batches and matches responses until the stream breaks, or until the input
// is closed and everything was answered (err nil). progress reports whether
// any response arrived.
func (l *lane) session(resend bool) (progress bool, err error) {
	ctx, cancel := context.WithCancel(l.s.ctx)
	defer cancel()
	st, err := l.s.c.rpc.Score(ctx)
	if err != nil {
		return false, err
	}
	ss := &session{
		l: l, st: st,
		resps: make(chan *iamsentryv1.ScoreResponse, l.s.c.opts.window),
		end:   make(chan error, 1),
	}
	go ss.receive(ctx)
	err = ss.run(resend)
	return ss.progress, err
}

// session is one gRPC stream of a lane. Its methods run on the lane's
// goroutine, except receive, which has a goroutine of its own and talks to
// them only through resps and end.
type session struct {
	l          *lane
	st         iamsentryv1.DetectionService_ScoreClient
	resps      chan *iamsentryv1.ScoreResponse
	end        chan error // the status that ended the stream, written once
	progress   bool       // a response was matched to its request
	halfClosed bool       // CloseSend was called
}

// receive queues the stream's responses, then the status that ended it.
// Queuing both from one goroutine, in that order, is what lets drain know
// that once the status is in, every response before it is queued too.
func (ss *session) receive(ctx context.Context) {
	for {
		r, err := ss.st.Recv()
		if err != nil {
			ss.end <- err
			return
		}
		select {
		case ss.resps <- r:
		case <-ctx.Done():
			ss.end <- ctx.Err()
			return
		}
	}
}

// run resends the lane's unanswered batches, then sends new ones while the
// window has room and answers responses, until the stream ends.
func (ss *session) run(resend bool) error {
	l := ss.l
	for _, b := range l.pending {
		if err := ss.st.Send(l.request(b)); err != nil {
			return ss.sendFailed(err)
		}
		if resend {
			l.s.stats.resent.Add(1)
		}
	}
	for {
		ss.closeSendWhenDone()
		select {
		case b, ok := <-ss.input():
			if !ok {
				l.inClosed = true
				continue
			}
			l.pending = append(l.pending, b)
			if err := ss.st.Send(l.request(b)); err != nil {
				return ss.sendFailed(err)
			}
		case r := <-ss.resps:
			if err := ss.answer(r); err != nil {
				return err
			}
		case err := <-ss.end:
			return ss.drain(err)
		}
	}
}

// input is the lane's input while it is open and the window has room, and
// nil (never ready) otherwise.
func (ss *session) input() <-chan *batch {
	if ss.l.inClosed || len(ss.l.pending) >= ss.l.s.c.opts.window {
		return nil
	}
	return ss.l.in
}

// closeSendWhenDone half-closes the stream once the input is closed and
// everything was answered, so the server ends it cleanly.
func (ss *session) closeSendWhenDone() {
	if ss.l.inClosed && len(ss.l.pending) == 0 && !ss.halfClosed {
		ss.st.CloseSend()
		ss.halfClosed = true
	}
}

// answer matches r to its request and notes the progress.
func (ss *session) answer(r *iamsentryv1.ScoreResponse) error {
	if err := ss.l.answer(r); err != nil {
		return err
	}
	ss.progress = true
	return nil
}

// sendFailed ends the session after a Send error. io.EOF says only that
// the stream is gone: why is the status the receiver gets.
func (ss *session) sendFailed(err error) error {
	if errors.Is(err, io.EOF) {
		err = <-ss.end
	}
	return ss.drain(err)
}

// drain ends the session on err, the status that ended the stream: it
// answers the responses that arrived before it, and turns a clean end
// (io.EOF) with requests still unanswered into errEndedEarly.
func (ss *session) drain(err error) error {
	for len(ss.resps) > 0 {
		if aerr := ss.answer(<-ss.resps); aerr != nil {
			return aerr
		}
	}
	if !errors.Is(err, io.EOF) {
		return err
	}
	if len(ss.l.pending) > 0 {
		return errEndedEarly
	}
	return nil
}

func (l *lane) request(b *batch) *iamsentryv1.ScoreRequest {
	req := &iamsentryv1.ScoreRequest{Sequence: b.seq, Learn: l.s.c.opts.learn, Events: make([]*iamsentryv1.Event, len(b.records))}
	for i, r := range b.records {
		req.Events[i] = &iamsentryv1.Event{Record: &iamsentryv1.Event_Json{Json: r}}
	}
	return req
}

// answer matches a response to the first unanswered request. Responses
// come in request order; anything else is a broken server, and the Stream
// cannot trust its answers.
func (l *lane) answer(r *iamsentryv1.ScoreResponse) error {
	if len(l.pending) == 0 {
		return status.Errorf(codes.Internal, "iamsentry: response (sequence %d) to no request", r.GetSequence())
	}
	b := l.pending[0]
	if r.GetSequence() != b.seq || len(r.GetVerdicts()) != len(b.records) {
		return status.Errorf(codes.Internal, "iamsentry: response sequence %d with %d verdicts, want sequence %d with %d",
			r.GetSequence(), len(r.GetVerdicts()), b.seq, len(b.records))
	}
	l.pending = l.pending[1:]
	l.s.stats.requests.Add(1)
	b.finish(r.GetVerdicts(), nil)
	return nil
}
