// Package memory is the embedded, in-process state.Store: the default for a
// first run, for tests and for `iamsentry scan` backtests, where one process
// holds all state and Redis would only add a network hop.
//
// Keys are spread over sharded maps, each behind its own mutex, so batches
// from many streams execute concurrently. Every entry carries a wall-clock
// expiry like a Redis key; a janitor goroutine reclaims expired entries, so
// memory stays bounded by what was written within the TTLs, and operations
// trim set members by event time as the contract asks.
package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// shardCount is a power of two so a hash picks a shard with a mask; 64 keeps
// lock contention low at the core counts a scorer replica runs on.
const shardCount = 64

// DefaultSweepInterval is how often the janitor reclaims expired entries
// unless WithSweepInterval says otherwise.
const DefaultSweepInterval = 10 * time.Second

// Store is an in-process state.Store. It is safe for concurrent use. Its
// zero value is not usable: create one with New and release it with Close.
type Store struct {
	shards [shardCount]shard
	seed   maphash.Seed
	now    func() time.Time
	every  time.Duration

	closed    atomic.Bool
	closeOnce sync.Once
	stop      chan struct{} // closed by Close to stop the janitor
	done      chan struct{} // closed by the janitor when it returns
}

var _ state.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock makes the store read wall-clock time from now, which decides
// when entries expire. Tests pass a fake clock to expire entries at will;
// event time inside operations is unaffected.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// WithSweepInterval sets how often the janitor reclaims expired entries.
// A zero or negative interval disables the janitor: expired entries are then
// hidden on access and reclaimed only when touched or when Sweep is called.
func WithSweepInterval(d time.Duration) Option {
	return func(s *Store) { s.every = d }
}

// New returns an empty Store and starts its janitor. Call Close to stop it.
func New(opts ...Option) *Store {
	s := &Store{seed: maphash.MakeSeed(), now: time.Now, every: DefaultSweepInterval, stop: make(chan struct{}), done: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	for i := range s.shards {
		s.shards[i].m = make(map[state.Key]*entry)
	}
	if s.every > 0 {
		go s.janitor()
	} else {
		close(s.done)
	}
	return s
}

// Exec executes b's operations in queue order, each atomically on its own,
// and resolves their futures. Errors specific to one operation (a bad TTL,
// a key holding another kind of state) go on that operation's future only.
// After Close, Exec fails every future and returns an error wrapping
// state.ErrUnavailable; with ctx already done it fails them with ctx's error.
func (s *Store) Exec(ctx context.Context, b *state.Batch) error {
	if s.closed.Load() {
		err := fmt.Errorf("memory: store closed: %w", state.ErrUnavailable)
		b.FailAll(err)
		return err
	}
	if err := ctx.Err(); err != nil {
		err = fmt.Errorf("memory: exec: %w", err)
		b.FailAll(err)
		return err
	}
	// One clock reading per batch: the batch is one round trip's worth of
	// work, as on Redis, and time.Now per op would be wasted.
	now := s.now().UnixNano()
	for _, op := range b.Ops() {
		s.exec(op, now)
	}
	return nil
}

// Ping returns nil while the store is open and an error wrapping
// state.ErrUnavailable after Close.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("memory: store closed: %w", state.ErrUnavailable)
	}
	return nil
}

// Close stops the janitor and makes later calls to Exec and Ping fail. The
// state is dropped with the Store. Close is idempotent and always returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stop)
		<-s.done
	})
	return nil
}

// Len returns the number of keys held in memory, including expired keys not
// yet reclaimed. It measures memory, not live state: after a Sweep it counts
// live keys only, so a test can tell reclaimed entries from hidden ones.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Sweep reclaims every entry whose TTL has run out by the store's clock.
// The janitor calls it every sweep interval; tests and callers that
// disabled the janitor call it directly. It locks one shard at a time, so
// batches keep running on the other shards meanwhile.
func (s *Store) Sweep() {
	now := s.now().UnixNano()
	for i := range s.shards {
		s.shards[i].sweep(now)
	}
}

func (s *Store) janitor() {
	defer close(s.done)
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// shard picks the shard owning k with the runtime's hash of the key,
// sparing the allocation of k.String() on every operation.
func (s *Store) shard(k state.Key) *shard {
	return &s.shards[maphash.Comparable(s.seed, k)&(shardCount-1)]
}
