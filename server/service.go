package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server/auth"
	"github.com/iamsentry/iamsentry/server/findings"
)

// service implements iamsentry.v1.DetectionService.
type service struct {
	iamsentryv1.UnimplementedDetectionServiceServer
	eng     *engine.Engine
	batcher *batcher
	opts    Options
	log     *slog.Logger

	readAhead *byteBudget // the process's read-ahead budget, shared by Score streams

	hub      *findings.Hub
	stopping <-chan struct{} // closed when the server starts shutting down
	metrics  serverMetrics
}

// ListDetectors implements DetectionService.
func (s *service) ListDetectors(context.Context, *iamsentryv1.ListDetectorsRequest) (*iamsentryv1.ListDetectorsResponse, error) {
	resp := &iamsentryv1.ListDetectorsResponse{}
	for _, l := range s.eng.Registry().List() {
		resp.Detectors = append(resp.Detectors, detectorProto(l))
	}
	return resp, nil
}

// ScoreBatch implements DetectionService.
func (s *service) ScoreBatch(ctx context.Context, req *iamsentryv1.ScoreBatchRequest) (*iamsentryv1.ScoreBatchResponse, error) {
	if err := s.checkEvents(len(req.GetEvents())); err != nil {
		return nil, err
	}
	verdicts, err := s.score(ctx, pathScoreBatch, req.GetLearn(), [][]*iamsentryv1.Event{req.GetEvents()})
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &iamsentryv1.ScoreBatchResponse{Verdicts: verdicts[0]}, nil
}

// Score implements DetectionService. Requests are read ahead (up to
// MaxInFlight per stream, and ReadAheadBytes per stream and ReadAheadTotal
// for the process), those already waiting are scored together, and
// responses go back in request order. A bad record gets an INVALID verdict
// and the stream goes on; a broken limit or a state outage ends the stream
// after the requests before it were answered.
func (s *service) Score(stream iamsentryv1.DetectionService_ScoreServer) error {
	ctx := stream.Context()
	reqs := make(chan heldRequest, s.opts.MaxInFlight)
	recvErr := make(chan error, 1)
	budget := readAhead{stream: newByteBudget(s.opts.ReadAheadBytes), process: s.readAhead}
	free := newRequestFreeList()
	go s.receive(ctx, stream, budget, free, reqs, recvErr)
	// What was read ahead but not answered is given back once receive has
	// stopped (the stream ends when Score returns).
	defer func() {
		go func() {
			for r := range reqs {
				budget.release(r.size)
			}
		}()
	}()
	var bufs streamBufs // reused from one group to the next
	for {
		group, held, more := s.next(reqs, bufs.group[:0])
		bufs.group = group
		if len(group) > 0 {
			err := s.answer(ctx, stream, group, &bufs)
			budget.release(held)
			if err != nil {
				return err
			}
			// Answered: nothing reads the requests any more (an engine
			// call that failed may still, and then the stream ends above).
			for _, r := range group {
				free.put(r)
			}
			clear(bufs.group)
		}
		if !more {
			select {
			case err := <-recvErr:
				if !errors.Is(err, io.EOF) {
					return err
				}
				return nil
			default: // still receiving: the server is stopping
				return s.status(ctx, errStopping)
			}
		}
	}
}

// streamBufs are the slices a Score stream reuses for each group of
// requests it answers, instead of allocating them per request.
type streamBufs struct {
	group  []*receivedRequest
	events [][]*iamsentryv1.Event
	score  scoreBufs
}

// scoreBufs are the slices scoreInto may reuse from one call to the next:
// the grouping of the verdicts, the verdicts of the records scored and
// pointers to them (the responses that carry them are marshalled when
// sent, and hold nothing once they are), and the records handed to the
// batcher, which the engine reads only until the call returns.
type scoreBufs struct {
	out      [][]*iamsentryv1.Verdict
	all      []*iamsentryv1.Verdict
	verdicts []iamsentryv1.Verdict
	used     int // verdicts handed out since the last release
	records  [][]byte
}

// heldRequest is a request read ahead, with the bytes it holds.
type heldRequest struct {
	req  *receivedRequest
	size int
}

// receive reads requests into reqs until the client half-closes, the
// stream fails or a request breaks a limit; it then sends the reason on
// errc and closes reqs. Requests are read into answered ones free holds,
// when it has any. Each request takes its size from the read-ahead
// budget before it is queued: when the budget is spent, receive stops
// reading, and flow control stops the client.
func (s *service) receive(ctx context.Context, stream iamsentryv1.DetectionService_ScoreServer,
	budget readAhead, free requestFreeList, reqs chan<- heldRequest, errc chan<- error) {
	defer close(reqs)
	for {
		req := free.get()
		err := stream.RecvMsg(req)
		if err == nil {
			err = s.checkEvents(len(req.GetEvents()))
		}
		var size int
		if err == nil {
			size = req.wire
			err = budget.acquire(ctx, size)
		}
		if err != nil {
			errc <- err
			return
		}
		select {
		case reqs <- heldRequest{req, size}:
		case <-ctx.Done():
			budget.release(size)
			errc <- ctx.Err()
			return
		}
	}
}

// next waits for one request, then takes those already waiting, up to
// BatchSize events, and returns them appended to group (a buffer the
// stream reuses) with the bytes they hold. more is
// false once reqs is closed and drained, or once the server stops and the
// requests already read are taken: a stream is told to leave after its
// in-flight requests are answered, instead of being cut when the grace
// period ends.
func (s *service) next(reqs <-chan heldRequest, group []*receivedRequest) (_ []*receivedRequest, held int, more bool) {
	var r heldRequest
	var ok bool
	select {
	case r, ok = <-reqs:
	case <-s.stopping:
		select {
		case r, ok = <-reqs:
		default:
			return nil, 0, false
		}
	}
	if !ok {
		return nil, 0, false
	}
	group, held = append(group, r.req), r.size
	n := len(r.req.GetEvents())
	for n < s.opts.BatchSize {
		select {
		case r, ok := <-reqs:
			if !ok {
				return group, held, false
			}
			group, held = append(group, r.req), held+r.size
			n += len(r.req.GetEvents())
		default:
			return group, held, true
		}
	}
	return group, held, true
}

// answer scores a group of requests and sends their responses in order.
// Requests that learn and requests that score are never mixed in one
// engine call: the group is cut into runs of the same kind.
func (s *service) answer(ctx context.Context, stream iamsentryv1.DetectionService_ScoreServer, group []*receivedRequest, bufs *streamBufs) error {
	for len(group) > 0 {
		n := 1
		for n < len(group) && group[n].GetLearn() == group[0].GetLearn() {
			n++
		}
		run := group[:n]
		group = group[n:]
		events := bufs.events[:0]
		for _, r := range run {
			events = append(events, r.GetEvents())
		}
		bufs.events = events
		verdicts, err := s.scoreInto(ctx, pathScore, run[0].GetLearn(), events, &bufs.score)
		clear(events)
		if err != nil {
			return s.status(ctx, err)
		}
		for i, r := range run {
			// Send marshals the response before it returns (the stats
			// handlers look at its size only), so the request's own
			// response serves, and the verdicts are reused by the next run.
			r.resp.Sequence, r.resp.Verdicts = r.GetSequence(), verdicts[i]
			err := stream.Send(&r.resp)
			r.resp.Verdicts = nil
			if err != nil {
				return err
			}
		}
		clear(verdicts) // bufs.score.out: hold no verdict past its response
		bufs.score.release()
	}
	return nil
}

// score scores the events of several requests, received on the named
// path, in one call for the caller's tenant and returns their verdicts
// grouped as the requests were. The verdicts, and the slices that group
// them, are allocated once for the whole call.
func (s *service) score(ctx context.Context, path string, learn bool, requests [][]*iamsentryv1.Event) ([][]*iamsentryv1.Verdict, error) {
	return s.scoreInto(ctx, path, learn, requests, nil)
}

// scoreInto is score reusing bufs, when not nil, for its slices. What it
// returns is valid until the next call with the same bufs.
func (s *service) scoreInto(ctx context.Context, path string, learn bool, requests [][]*iamsentryv1.Event, bufs *scoreBufs) ([][]*iamsentryv1.Verdict, error) {
	total := 0
	for _, events := range requests {
		total += len(events)
	}
	s.metrics.receive(ctx, path, total)
	var out [][]*iamsentryv1.Verdict
	var records [][]byte
	if bufs != nil {
		out, records = slices.Grow(bufs.out[:0], len(requests))[:len(requests)], slices.Grow(bufs.records[:0], total)
		clear(out)
		bufs.out = out
	} else {
		out, records = make([][]*iamsentryv1.Verdict, len(requests)), make([][]byte, 0, total)
	}
	all := bufs.pointers(total)
	for i, events := range requests {
		out[i], all = all[:len(events):len(events)], all[len(events):]
		for j, ev := range events {
			raw, err := eventJSON(ev)
			if err != nil {
				s.metrics.rejectEnvelope(ctx)
				out[i][j] = invalidVerdict(err)
				continue
			}
			records = append(records, raw)
		}
	}
	if len(records) == 0 {
		return out, nil
	}
	verdicts, err := s.batcher.score(ctx, auth.Tenant(ctx), learn, records)
	if bufs != nil {
		if err != nil {
			// An abandoned job may still be read by a worker: leave
			// its records to it.
			bufs.records = nil
		} else {
			clear(records) // hold no request's bytes past its call
			bufs.records = records[:0]
		}
	}
	if err != nil {
		return nil, err
	}
	slab := bufs.slab(len(verdicts))
	for i := range out {
		for j := range out[i] {
			if out[i][j] == nil {
				k := len(slab) - len(verdicts)
				fillVerdict(&slab[k], &verdicts[0])
				out[i][j] = &slab[k]
				verdicts = verdicts[1:]
			}
		}
	}
	return out, nil
}

func (s *service) checkEvents(n int) error { return eventsError(n, s.opts.MaxEventsPerRequest) }

// status converts an error into the gRPC status the caller sees.
func (s *service) status(ctx context.Context, err error) error { return grpcStatus(ctx, s.log, err) }

// grpcStatus converts an error into the gRPC status the caller sees, for
// every service of the server. It is the one place where internal errors
// meet the wire: internal text never leaves.
func grpcStatus(ctx context.Context, log *slog.Logger, err error) error {
	switch {
	case err == nil:
		return nil
	case engine.IsUnavailable(err):
		log.WarnContext(ctx, "state backend unavailable; request not scored", errorCause(err))
		return status.Error(codes.Unavailable, "state backend unavailable: nothing in this request was scored; retry with backoff")
	case errors.Is(err, errStopping):
		return status.Error(codes.Unavailable, "server is shutting down; retry on another replica")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded before scoring finished")
	default:
		log.ErrorContext(ctx, "scoring failed", errorCause(err))
		return status.Error(codes.Internal, "internal error while scoring")
	}
}

// pointers returns n nil verdict pointers, from b when not nil.
func (b *scoreBufs) pointers(n int) []*iamsentryv1.Verdict {
	if b == nil {
		return make([]*iamsentryv1.Verdict, n)
	}
	b.all = slices.Grow(b.all[:0], n)[:n]
	clear(b.all)
	return b.all
}

// slab returns n zero verdicts, from b when not nil.
func (b *scoreBufs) slab(n int) []iamsentryv1.Verdict {
	if b == nil {
		return make([]iamsentryv1.Verdict, n)
	}
	if cap(b.verdicts) < n {
		b.verdicts = make([]iamsentryv1.Verdict, n)
	}
	// Cleared here, not only by release: fillVerdict appends findings and
	// sets the invalid reason only when there is one, so a verdict left
	// from an earlier call that no release followed would leak into this one.
	clear(b.verdicts[:n])
	b.used = max(b.used, n)
	return b.verdicts[:n]
}

// release drops what the verdicts of the last call refer to (findings,
// stories) once their responses are sent, and the slabs themselves when
// a large group made them larger than a stream of small requests needs.
//
// Only what the last call used is cleared (slab and pointers reslice to
// it): a stream that once answered a large group keeps slabs of up to
// maxKeptVerdicts, and clearing all of them after every one-event request
// was a tenth of a millisecond a request in memclr.
func (b *scoreBufs) release() {
	clear(b.verdicts[:b.used])
	clear(b.all)
	b.used = 0
	if cap(b.verdicts) > maxKeptVerdicts {
		b.verdicts, b.all = nil, nil
	}
}

// maxKeptVerdicts bounds the verdicts a stream keeps for its next group.
const maxKeptVerdicts = 256
