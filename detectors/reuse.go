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
// Each looks back over the operations queued on the same key in the batch
// (through the batch's index by key: state.Batch.OnKey, and LastWrite and
// SharedWindowRead, which answer in one lookup). Only an operation whose
// effect and answer an earlier one already determines is left out, and its
// answer is derived from the earlier one's: the state after the batch and every answer are what they
// would have been, on any store, in any batch split. When another kind of
// operation on the key lies in between, the operation is queued as before.

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

// onKey walks back over the operations queued on key in b and calls visit
// for each, latest first, until visit returns true or it has visited the
// last one that writes the key: the reads after a write depend on it, and
// nothing before it can answer for them.
func onKey(b *state.Batch, key state.Key, visit func(op state.Op) bool) {
	for op := range b.OnKey(key) {
		if visit(op) || writes(op) {
			return
		}
	}
}

// writes reports whether op changes its key. An operation kind writes
// does not know counts as a write, so nothing is derived across it.
func writes(op state.Op) bool {
	switch op.(type) {
	case *state.ReadMarkOp, *state.WindowReadOp, *state.BucketReadOp, *state.GetOp:
		return false
	}
	return true
}

// lastWrite returns the last operation queued on key that wrote it,
// when only reads of key follow it; nil when none wrote it. The batch
// keeps it (state.Batch.LastWrite): no walk over the reads after it.
func lastWrite(b *state.Batch, key state.Key) state.Op {
	return b.LastWrite(key)
}

// Mark queues b.Mark(key, at, keep, ttl) unless the last write of key in
// the batch (reads of it may follow) is a mark of the same keep and TTL at a time at least as
// extreme: then this one would change nothing, and the mark it would have
// answered is the one that earlier mark left.
func Mark(b *state.Batch, key state.Key, at time.Time, keep state.Keep, ttl time.Duration) MarkResult {
	if m, ok := lastWrite(b, key).(*state.MarkOp); ok && m.Keep == keep && m.TTL == ttl &&
		((keep == state.KeepEarliest && !at.Before(m.At)) || (keep == state.KeepLatest && !at.After(m.At))) {
		return afterMark{m}
	}
	return b.Mark(key, at, keep, ttl)
}

// ReadMark queues b.ReadMark(key) unless the last operation on key in the
// batch already tells the mark: a read of it, or a mark of it.
func ReadMark(b *state.Batch, key state.Key) MarkResult {
	var found MarkResult
	onKey(b, key, func(op state.Op) bool {
		switch o := op.(type) {
		case *state.ReadMarkOp:
			found = &o.Result
		case *state.MarkOp:
			found = afterMark{o}
		}
		return found != nil
	})
	if found != nil {
		return found
	}
	return b.ReadMark(key)
}

// WindowRead queues b.WindowRead(key, span, limit) unless a read of the
// same span and limit follows the last write of key in the batch, or is
// that write (a WindowAddRead answers with the window after its add): its
// answer is this one's. The batch finds that read in one lookup
// (state.Batch.SharedWindowRead): a busy principal's reads of one key
// over spans of their own would make a walk over them quadratic.
func WindowRead(b *state.Batch, key state.Key, span state.Span, limit int) *state.Future[state.Window] {
	return b.SharedWindowRead(key, span, limit)
}

// WindowAddRead queues b.WindowAddRead unless the last write of key in the
// batch (reads of it may follow) is the same add and read (member, time, span, limit and TTL):
// adding a member at the time it already holds changes nothing, so the
// window read is the same.
func WindowAddRead(b *state.Batch, key state.Key, member string, at time.Time, span state.Span, limit int, ttl time.Duration) *state.Future[state.Window] {
	if o, ok := lastWrite(b, key).(*state.WindowAddReadOp); ok && o.Member == member && o.At.Equal(at) &&
		sameSpan(o.Span, span) && o.Limit == limit && o.TTL == ttl {
		return &o.Result
	}
	return b.WindowAddRead(key, member, at, span, limit, ttl)
}

// WindowPairAddRead queues b.WindowPairAddRead unless the last write of
// key in the batch (reads of it may follow) is the same pair add and read
// (members, time, spans, limit and TTL): as for WindowAddRead, adding
// members at the times they already hold changes nothing.
func WindowPairAddRead(b *state.Batch, key state.Key, members [2]string, at time.Time, spans [2]state.Span, limit int, ttl time.Duration) *state.Future[[2]state.Window] {
	if o, ok := lastWrite(b, key).(*state.WindowPairAddReadOp); ok && o.Members == members && o.At.Equal(at) &&
		sameSpan(o.Spans[0], spans[0]) && sameSpan(o.Spans[1], spans[1]) && o.Limit == limit && o.TTL == ttl {
		return &o.Result
	}
	return b.WindowPairAddRead(key, members, at, spans, limit, ttl)
}

func sameSpan(a, b state.Span) bool { return a.From.Equal(b.From) && a.To.Equal(b.To) }

// Get queues b.Get(key) unless a Get of key follows the last write of it
// in the batch: its answer is this one's.
func Get(b *state.Batch, key state.Key) *state.Future[[]byte] {
	var found *state.Future[[]byte]
	onKey(b, key, func(op state.Op) bool {
		if o, ok := op.(*state.GetOp); ok {
			found = &o.Result
		}
		return found != nil
	})
	if found != nil {
		return found
	}
	return b.Get(key)
}

// BucketAdd queues b.BucketAdd unless the last write of key in the batch
// (reads of it may follow) added the same member to the same bucket, with
// the same width, history and TTL, at a time in the same bucket whose
// cut-off (at−TTL) drops the same buckets: adding a member to a bucket that
// holds it changes nothing, so the counts it answered are this one's.
func BucketAdd(b *state.Batch, key state.Key, member string, at time.Time, width time.Duration, history int, ttl time.Duration) *state.Future[[]int] {
	if o, ok := lastWrite(b, key).(*state.BucketAddOp); ok && o.Member == member && o.Width == width &&
		o.History == history && o.TTL == ttl && state.BucketStart(at, width).Equal(state.BucketStart(o.At, width)) &&
		sameCut(at.Add(-ttl), o.At.Add(-ttl), width) {
		return &o.Result
	}
	return b.BucketAdd(key, member, at, width, history, ttl)
}

// sameCut reports whether no bucket boundary lies between two cut-offs,
// both included, so a store that drops the buckets ending before (or at)
// either drops the same ones.
func sameCut(x, y time.Time, width time.Duration) bool {
	if y.Before(x) {
		x, y = y, x
	}
	return state.BucketStart(y, width).Before(x)
}
