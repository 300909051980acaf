package server

import (
	"context"
	"errors"
	"io"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server/auth"
)

// streamPipe answers one Score stream. It keeps up to two runs of
// requests with the batcher: the one being scored, and the one following
// it (batcher.follow), which the batcher scores after it, in the first
// batch gathered once its verdicts are out. So a stream's records are
// scored in the order they arrived, as with one run at a time, but the
// requests that arrive while a run is scored are not left out of the
// batch that gathers meanwhile. Responses go back in request order.
type streamPipe struct {
	s      *service
	ctx    context.Context
	stream iamsentryv1.DetectionService_ScoreServer
	budget readAhead

	queue []*scoreRun // handed to the batcher, oldest first
	free  []*scoreRun // answered, for reuse
	group []*iamsentryv1.ScoreRequest
}

// pipeDepth is how many runs a stream keeps with the batcher: the one
// being scored and the one following it.
const pipeDepth = 2

// scoreRun is a run of a stream's requests that all learn or all score:
// one engine call's worth, with the slices it reuses.
type scoreRun struct {
	reqs    []*iamsentryv1.ScoreRequest
	held    int // read-ahead bytes, given back once answered
	events  [][]*iamsentryv1.Event
	bufs    scoreBufs
	out     [][]*iamsentryv1.Verdict
	records [][]byte
	job     *job // nil: no record to score (every event was invalid)
}

// run answers requests from reqs until the client half-closes, the stream
// fails or the server stops, as Score documents.
func (p *streamPipe) run(reqs <-chan heldRequest, recvErr <-chan error) error {
	more := true
	for more || len(p.queue) > 0 {
		if len(p.queue) == 0 {
			var held int
			p.group, held, more = p.s.next(reqs, p.group[:0])
			if err := p.start(p.group, held); err != nil {
				return err
			}
			continue
		}
		head := p.queue[0]
		if head.job == nil {
			if err := p.answer(head, jobResult{}); err != nil {
				return err
			}
			continue
		}
		// Read on while the head is scored, unless the queue is full or
		// the server is stopping (next then takes what already waits).
		var in <-chan heldRequest
		if more && len(p.queue) < pipeDepth && !closed(p.s.stopping) {
			in = reqs
		}
		select {
		case r := <-head.job.result:
			head.job.recycle()
			if err := p.answer(head, r); err != nil {
				return err
			}
		case r, ok := <-in:
			if !ok {
				more = false
				continue
			}
			var held int
			p.group, held, more = p.s.take(reqs, append(p.group[:0], r.req), r.size, len(r.req.GetEvents()))
			if err := p.start(p.group, held); err != nil {
				return err
			}
		case <-p.ctx.Done():
			return p.s.status(p.ctx, p.ctx.Err())
		}
	}
	select {
	case err := <-recvErr:
		if !errors.Is(err, io.EOF) {
			return err
		}
		return nil
	default: // still receiving: the server is stopping
		return p.s.status(p.ctx, errStopping)
	}
}

// start cuts group into runs of the same kind and hands each to the
// batcher after the runs before it. The held bytes go with the last run.
func (p *streamPipe) start(group []*iamsentryv1.ScoreRequest, held int) error {
	defer clear(group)
	for len(group) > 0 {
		n := 1
		for n < len(group) && group[n].GetLearn() == group[0].GetLearn() {
			n++
		}
		r := p.newRun()
		r.reqs = append(r.reqs[:0], group[:n]...)
		group = group[n:]
		if len(group) == 0 {
			r.held = held
		}
		for _, q := range r.reqs {
			r.events = append(r.events, q.GetEvents())
		}
		r.out, r.records = p.s.prepare(p.ctx, pathScore, r.events, &r.bufs)
		// queued before it is handed over, so that its bytes are given
		// back even if handing it over fails
		p.queue = append(p.queue, r)
		if len(r.records) == 0 {
			continue
		}
		var err error
		if prev := p.lastJob(); prev != nil {
			r.job, err = p.s.batcher.follow(p.ctx, prev, auth.Tenant(p.ctx), r.reqs[0].GetLearn(), r.records)
		} else {
			r.job, err = p.s.batcher.submit(p.ctx, auth.Tenant(p.ctx), r.reqs[0].GetLearn(), r.records)
		}
		if err != nil {
			// Its requests go unanswered: answer those before, then end
			// the stream.
			p.queue = p.queue[:len(p.queue)-1]
			if len(group) > 0 { // the group's bytes were not yet given to a run
				p.budget.release(held)
			} else {
				p.budget.release(r.held)
			}
			return p.drainThen(p.s.status(p.ctx, err))
		}
	}
	return nil
}

// lastJob is the job of the newest queued run that has one.
func (p *streamPipe) lastJob() *job {
	for i := len(p.queue) - 1; i >= 0; i-- {
		if p.queue[i].job != nil {
			return p.queue[i].job
		}
	}
	return nil
}

// drainThen answers the queued runs, then returns err.
func (p *streamPipe) drainThen(err error) error {
	for len(p.queue) > 0 {
		head := p.queue[0]
		var r jobResult
		if head.job != nil {
			select {
			case r = <-head.job.result:
				head.job.recycle()
			case <-p.ctx.Done():
				return p.s.status(p.ctx, p.ctx.Err())
			}
		}
		if e := p.answer(head, r); e != nil {
			return e
		}
	}
	return err
}

// answer sends the responses of the head run, given its job's result,
// and gives back the bytes it held.
func (p *streamPipe) answer(r *scoreRun, res jobResult) error {
	// Shift rather than reslice: the queue's array is reused for good.
	n := copy(p.queue, p.queue[1:])
	p.queue[n] = nil
	p.queue = p.queue[:n]
	p.budget.release(r.held)
	r.held = 0
	r.bufs.settle(r.records, res.err)
	if res.err != nil {
		return p.s.status(p.ctx, res.err)
	}
	if r.job != nil {
		fillVerdicts(r.out, res.verdicts)
	}
	r.job = nil
	for i, q := range r.reqs {
		if err := p.stream.Send(&iamsentryv1.ScoreResponse{Sequence: q.GetSequence(), Verdicts: r.out[i]}); err != nil {
			return err
		}
	}
	p.recycle(r)
	return nil
}

func (p *streamPipe) newRun() *scoreRun {
	if n := len(p.free); n > 0 {
		r := p.free[n-1]
		p.free = p.free[:n-1]
		return r
	}
	return &scoreRun{}
}

// recycle keeps r for a later run, holding no request or verdict.
func (p *streamPipe) recycle(r *scoreRun) {
	clear(r.reqs)
	clear(r.events)
	clear(r.out) // r.bufs.out: hold no verdict past its response
	r.reqs, r.events, r.out, r.records = r.reqs[:0], r.events[:0], nil, nil
	p.free = append(p.free, r)
}

// abandon gives back the bytes of the runs left unanswered when the
// stream ends early.
func (p *streamPipe) abandon() {
	for _, r := range p.queue {
		p.budget.release(r.held)
	}
	p.queue = nil
}

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
