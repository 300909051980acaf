// Package memory is the embedded, in-process state.Store: the default for a
// first run, for tests and for `iamsentry scan` backtests, where one process
// holds all state and Redis would only add a network hop.
//
// Keys are grouped by identity (tenant and identity) and the identities
// spread over sharded maps, each behind its own mutex, so batches from many
// streams execute concurrently. Every entry carries a wall-clock expiry like
// a Redis key; a janitor goroutine reclaims expired entries, and operations
// trim set members by event time as the contract asks.
//
// TTLs alone do not bound memory: a flood of identities never seen again
// writes state faster than it expires. So the store also keeps within a
// memory budget (WithMaxBytes): it accounts the heap bytes each identity's
// state takes and, past the budget, evicts least recently used identities
// whole, every key of one identity together, so a detector never reads half
// of an identity's state. Each shard keeps 1/64 of the budget and its own
// recency order: eviction is least recently used per shard, which over
// identities spread by hash is close to least recently used overall.
package memory

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
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
	now    func() time.Time
	every  time.Duration
	budget int64

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

// DefaultMaxBytes is the budget of a store without WithMaxBytes when no Go
// memory limit is set (GOMEMLIMIT): 1 GiB.
const DefaultMaxBytes = 1 << 30

// MaxBytesFromEnv returns the budget a store takes by default: half the Go
// memory limit when one is set (GOMEMLIMIT, or debug.SetMemoryLimit), the
// other half left for everything else the process holds and for the
// garbage collector's headroom; else DefaultMaxBytes.
func MaxBytesFromEnv() int64 {
	if limit := debug.SetMemoryLimit(-1); limit > 0 && limit < math.MaxInt64 {
		return limit / 2
	}
	return DefaultMaxBytes
}

// WithMaxBytes sets the memory budget: the most bytes of state the store
// holds before it evicts least recently used identities. Zero or less
// means no budget (only TTLs reclaim memory). Without this option the
// budget is MaxBytesFromEnv().
func WithMaxBytes(n int64) Option {
	return func(s *Store) { s.budget = max(n, 0) }
}

// New returns an empty Store and starts its janitor. Call Close to stop it.
func New(opts ...Option) *Store {
	s := &Store{now: time.Now, every: DefaultSweepInterval, budget: MaxBytesFromEnv(),
		stop: make(chan struct{}), done: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	for i := range s.shards {
		s.shards[i].init(s.budget / shardCount)
	}
	if s.budget > 0 && s.budget < shardCount {
		for i := range s.shards {
			s.shards[i].budget = 1
		}
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
	var x scratch
	var held *shard
	defer func() {
		if held != nil {
			held.release()
		}
	}()
	for _, op := range b.Ops() {
		s.exec(op, now, &x, &held)
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
func (s *Store) Len() int { return s.Stats().Keys }

// Stats describe what a store holds and what it evicted.
type Stats struct {
	Keys       int   // keys held, expired ones not yet reclaimed included
	Identities int   // (tenant, identity) pairs holding keys
	Bytes      int64 // accounted heap bytes of the state held
	MaxBytes   int64 // the budget; 0: none
	Evictions  int64 // identities evicted to keep within the budget, since New
}

// Stats returns the store's current figures. It locks one shard at a time,
// so the figures of a busy store are not one instant's.
func (s *Store) Stats() Stats {
	st := Stats{MaxBytes: s.budget}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		st.Keys += sh.keys + sh.claims.len()
		st.Identities += sh.groups + sh.claims.len()
		st.Bytes += sh.bytes
		st.Evictions += sh.evicted
		sh.mu.Unlock()
	}
	return st
}

// Evictions returns how many identities were evicted to keep within the
// budget since New. It is what state/instrumented exports as
// iamsentry.state.evictions.
func (s *Store) Evictions() int64 { return s.Stats().Evictions }

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

// shard picks the shard owning k's identity by h, hashKey(k), which also
// finds the identity in the shard's map.
func (s *Store) shard(h uint64) *shard {
	return &s.shards[h&(shardCount-1)]
}
