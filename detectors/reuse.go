package detectors

import (
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// Helpers that queue a state operation only when it can tell the store
// something the batch does not already: detectors of one identity repeat
// the same mark, read and learned-set add record after record, and each
// repeat within a micro-batch is a Redis command that changes nothing.
//
// Each looks back over the operations most recently queued on the batch
// (reuseLookback of them, so a batch costs linear time) for the last one on
// the same key. Only an operation whose effect and answer that earlier one
// already determines is left out, and its answer is derived from the
// earlier one's: the state after the batch and every answer are what they
// would have been, on any store, in any batch split. When the earlier
// operation lies further back, or another kind of operation on the key
// lies in between, the operation is queued as before.

// reuseLookback is how many queued operations the helpers look back over.
// Records of one identity come in runs; a run's repeats lie within a few
// dozen records of each other.
const reuseLookback = 256

// MarkResult is a mark as an operation saw it, read after the batch
// executed: a *state.Future[state.Mark], or one derived from an earlier
// operation of the batch.
type MarkResult interface {
	Get() (state.Mark, error)
}

// afterMark is the mark as it is after op ran: what a read of its key sees
// when nothing else wrote the key in between.
type afterMark struct{ op *state.MarkOp }

func (a afterMark) Get() (state.Mark, error) {
	prior, err := a.op.Result.Get()
	if err != nil {
		return state.Mark{}, err
	}
	if !prior.Set || (a.op.Keep == state.KeepLatest && a.op.At.After(prior.At)) ||
		(a.op.Keep == state.KeepEarliest && a.op.At.Before(prior.At)) {
		return state.Mark{Set: true, At: a.op.At}, nil
	}
	return prior, nil
}

// lastOn returns the last operation queued on key among the last
// reuseLookback, skipping read-only ReadMark operations when skipReads is
// set, or nil.
func lastOn(b *state.Batch, key state.Key, skipReads bool) state.Op {
	ops := b.Ops()
	for i := len(ops) - 1; i >= max(0, len(ops)-reuseLookback); i-- {
		var k state.Key
		switch o := ops[i].(type) {
		case *state.MarkOp:
			k = o.Key
		case *state.ReadMarkOp:
			if skipReads {
				continue
			}
			k = o.Key
		case *state.WindowReadOp:
			k = o.Key
		case *state.WindowAddReadOp:
			k = o.Key
		case *state.WindowAddOp:
			k = o.Key
		case *state.NoveltyAddOp:
			k = o.Key
		case *state.BucketAddOp:
			k = o.Key
		case *state.BucketReadOp:
			k = o.Key
		case *state.GetOp:
			k = o.Key
		case *state.PutOp:
			k = o.Key
		case *state.ClaimOp:
			k = o.Key
		case *state.ThrottleOp:
			k = o.Key
		default:
			return nil // an operation this file does not know: assume it wrote key
		}
		if k == key {
			return ops[i]
		}
	}
	return nil
}

// Mark queues b.Mark(key, at, keep, ttl) unless the last write of key in
// the batch is a mark of the same keep and TTL at a time at least as
// extreme: then this one would change nothing, and the mark it would have
// answered is the one that earlier mark left.
func Mark(b *state.Batch, key state.Key, at time.Time, keep state.Keep, ttl time.Duration) MarkResult {
	if m, ok := lastOn(b, key, true).(*state.MarkOp); ok && m.Keep == keep && m.TTL == ttl &&
		((keep == state.KeepEarliest && !at.Before(m.At)) || (keep == state.KeepLatest && !at.After(m.At))) {
		return afterMark{m}
	}
	return b.Mark(key, at, keep, ttl)
}

// ReadMark queues b.ReadMark(key) unless the last operation on key in the
// batch already tells the mark: a read of it, or a mark of it.
func ReadMark(b *state.Batch, key state.Key) MarkResult {
	switch o := lastOn(b, key, false).(type) {
	case *state.ReadMarkOp:
		return &o.Result
	case *state.MarkOp:
		return afterMark{o}
	}
	return b.ReadMark(key)
}

// WindowRead queues b.WindowRead(key, span, limit) unless the last
// operation on key in the batch is a read of the same span and limit (a
// WindowRead, or a WindowAddRead, which answers with the window after its
// add): its answer is this one's.
func WindowRead(b *state.Batch, key state.Key, span state.Span, limit int) *state.Future[state.Window] {
	switch o := lastOn(b, key, false).(type) {
	case *state.WindowReadOp:
		if sameSpan(o.Span, span) && o.Limit == limit {
			return &o.Result
		}
	case *state.WindowAddReadOp:
		if sameSpan(o.Span, span) && o.Limit == limit {
			return &o.Result
		}
	}
	return b.WindowRead(key, span, limit)
}

// WindowAddRead queues b.WindowAddRead unless the last operation on key in
// the batch is the same add and read (member, time, span, limit and TTL):
// adding a member at the time it already holds changes nothing, so the
// window read is the same.
func WindowAddRead(b *state.Batch, key state.Key, member string, at time.Time, span state.Span, limit int, ttl time.Duration) *state.Future[state.Window] {
	if o, ok := lastOn(b, key, false).(*state.WindowAddReadOp); ok && o.Member == member && o.At.Equal(at) &&
		sameSpan(o.Span, span) && o.Limit == limit && o.TTL == ttl {
		return &o.Result
	}
	return b.WindowAddRead(key, member, at, span, limit, ttl)
}

func sameSpan(a, b state.Span) bool { return a.From.Equal(b.From) && a.To.Equal(b.To) }

// Get queues b.Get(key) unless the last operation on key in the batch is
// a Get of it, whose answer is this one's.
func Get(b *state.Batch, key state.Key) *state.Future[[]byte] {
	if o, ok := lastOn(b, key, false).(*state.GetOp); ok {
		return &o.Result
	}
	return b.Get(key)
}
