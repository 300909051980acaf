// Package state is the memory of iamsentry: the few primitives detectors need
// (dedupe, windowed sets, novelty sets, time marks, time buckets, throttles and
// small values), queued on a Batch and executed together by a Store.
//
// The batch shape exists so that a whole micro-batch of events, however many
// detectors look at it, costs one round trip to a shared backend such as Redis:
// detectors queue operations and receive futures, the engine executes the batch
// once, and detectors read their futures afterwards.
//
// Every operation is atomic on its own and every write carries a TTL, so no
// key outlives its usefulness. Time inside operations is event time (the
// CloudTrail eventTime), never arrival time; TTLs are wall-clock durations, as
// they are on Redis.
//
// Backends live in sub-packages (memory, redis); statetest holds the
// conformance suite every backend passes.
package state

import (
	"context"
	"errors"
	"time"
)

// Store executes batches of state operations. Implementations must be safe for
// concurrent use: several batches may execute at once.
type Store interface {
	// Exec executes every operation queued on b, in queue order, and resolves
	// each operation's future. Operations on the same key observe the effects
	// of earlier operations in the same batch.
	//
	// Exec returns a non-nil error, wrapping ErrUnavailable, when the backend
	// could not be reached; the futures of operations that did not execute then
	// carry that error. An error specific to one operation is reported on its
	// future only. Exec must not be called twice on one batch.
	Exec(ctx context.Context, b *Batch) error

	// Ping reports whether the backend can serve: nil when ready.
	Ping(ctx context.Context) error

	// Close releases the store's resources.
	Close() error
}

// IdentityGrouper is implemented by a Store that keeps all state of one
// identity together and writes it as one (the Redis record layout): a
// caller free to choose where a piece of state lives, such as the engine's
// dedupe claims, places it beside identity state it writes anyway. A Store
// that wraps another exposes it with Unwrap() Store.
type IdentityGrouper interface {
	GroupsIdentities() bool
}

// GroupsIdentities reports whether s, or a Store it wraps, groups the
// state of each identity (see IdentityGrouper).
func GroupsIdentities(s Store) bool {
	for s != nil {
		if g, ok := s.(IdentityGrouper); ok {
			return g.GroupsIdentities()
		}
		u, ok := s.(interface{ Unwrap() Store })
		if !ok {
			return false
		}
		s = u.Unwrap()
	}
	return false
}

// ErrUnavailable marks errors caused by a backend that cannot be reached.
// The server turns it into gRPC UNAVAILABLE.
var ErrUnavailable = errors.New("state: backend unavailable")

// ErrNotExecuted is returned by a future read before its batch executed.
var ErrNotExecuted = errors.New("state: batch not executed")

// Key names one piece of state.
//
// Identity is the part that decides placement: backends hash it (with the
// tenant) into a Redis Cluster hash tag, so every key of one identity lives on
// one slot. Name says what the key holds, e.g. "enum:actions".
type Key struct {
	Tenant   string // owning tenant; "" is the default tenant
	Identity string // whom the state is about: an access key, a principal, a policy ARN
	Name     string // what the state holds
}

// String renders the key for logs and for backends that key maps by string.
func (k Key) String() string {
	return "{" + k.Tenant + ":" + k.Identity + "}:" + k.Name
}

// Future is the result of one queued operation, readable after the batch
// executed. A Future is written once by the backend and then only read.
type Future[T any] struct {
	val  T
	err  error
	done bool
}

// Get returns the operation's result, or ErrNotExecuted before Exec ran.
func (f *Future[T]) Get() (T, error) {
	if !f.done {
		var zero T
		return zero, ErrNotExecuted
	}
	return f.val, f.err
}

// Resolve sets the result. Backends call it exactly once per operation.
func (f *Future[T]) Resolve(v T, err error) {
	f.val, f.err, f.done = v, err, true
}

// Fail resolves the future with err if it has not been resolved yet. Backends
// use it to fail what is left of a batch after an outage.
func (f *Future[T]) Fail(err error) {
	if !f.done {
		var zero T
		f.Resolve(zero, err)
	}
}

// Span is an inclusive range of event time.
type Span struct {
	From, To time.Time
}

// Contains reports whether t lies in [From, To].
func (s Span) Contains(t time.Time) bool {
	return !t.Before(s.From) && !t.After(s.To)
}
