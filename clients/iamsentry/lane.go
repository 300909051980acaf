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
	s, o := l.s, &l.s.c.opts
	attempt := 0
	var failingSince time.Time
	for {
		if len(l.pending) == 0 && !l.next() {
			return
		}
		progress, err := l.session(attempt > 0)
		if progress {
			attempt = 0
		}
		if err == nil {
			continue
		}
		if s.ctx.Err() != nil {
			l.failAll(context.Cause(s.ctx))
			return
		}
		switch classify(status.Code(err)) {
		case rejectHead:
			l.rejectHead(err)
			continue
		case fatal:
			s.fail(err)
			l.failAll(err)
			return
		}
		if attempt == 0 {
			failingSince = time.Now()
		}
		if o.giveUp > 0 && time.Since(failingSince) > o.giveUp {
			err = fmt.Errorf("%w after %v: %w", ErrGaveUp, o.giveUp, err)
			s.fail(err)
			l.failAll(err)
			return
		}
		attempt++
		delay := backoffDelay(o.backoffBase, o.backoffMax, attempt)
		o.logger.Warn("iamsentry stream broken; reconnecting", slog.Any("error", err),
			slog.Int("attempt", attempt), slog.Duration("delay", delay), slog.Int("unanswered", len(l.pending)))
		if !l.sleep(delay) {
			l.failAll(context.Cause(s.ctx))
			return
		}
		s.stats.reconnects.Add(1)
	}
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
	s, o := l.s, &l.s.c.opts
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	st, err := s.c.rpc.Score(ctx)
	if err != nil {
		return false, err
	}
	resps := make(chan *iamsentryv1.ScoreResponse, o.window)
	recvErr := make(chan error, 1)
	go func() {
		for {
			r, err := st.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case resps <- r:
			case <-ctx.Done():
				recvErr <- ctx.Err()
				return
			}
		}
	}()
	// ended collects the final status; every response sent before it is
	// already in resps, since one goroutine queued both in order.
	ended := func(err error) (bool, error) {
		if errors.Is(err, io.EOF) || err == nil {
			err = <-recvErr
		}
		for len(resps) > 0 {
			if aerr := l.answer(<-resps); aerr != nil {
				return progress, aerr
			}
			progress = true
		}
		if errors.Is(err, io.EOF) {
			if len(l.pending) == 0 {
				return progress, nil
			}
			err = errEndedEarly
		}
		return progress, err
	}
	for _, b := range l.pending {
		if err := st.Send(l.request(b)); err != nil {
			return ended(err)
		}
		if resend {
			s.stats.resent.Add(1)
		}
	}
	halfClosed := false
	for {
		if l.inClosed && len(l.pending) == 0 && !halfClosed {
			st.CloseSend()
			halfClosed = true
		}
		var in <-chan *batch
		if !l.inClosed && len(l.pending) < o.window {
			in = l.in
		}
		select {
		case b, ok := <-in:
			if !ok {
				l.inClosed = true
				continue
			}
			l.pending = append(l.pending, b)
			if err := st.Send(l.request(b)); err != nil {
				return ended(err)
			}
		case r := <-resps:
			if err := l.answer(r); err != nil {
				return progress, err
			}
			progress = true
		case err := <-recvErr:
			recvErr <- err // ended reads it again
			return ended(nil)
		}
	}
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
