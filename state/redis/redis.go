package redis

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iamsentry/iamsentry/state"
)

// maxPasses bounds how often one Exec re-runs operations whose scripts the
// server had lost: a second loss within one Exec is bad luck, a third is a
// server flushing its script cache in a loop.
const maxPasses = 3

// Store is a state.Store on Redis: standalone, Sentinel or Cluster. It is
// safe for concurrent use.
type Store struct {
	client goredis.UniversalClient
	prefix string
	opts   Options
	closed atomic.Bool

	// policyChecked is set once CheckMemoryPolicy found the server's
	// maxmemory-policy acceptable (or could not read it); until then Ping
	// checks it.
	policyChecked atomic.Bool

	// oomSeen is set when a batch met OOM, and cleared by Ping, which
	// reports it: at the edge of maxmemory Ping's small probe may fit while
	// every real batch is refused, and readiness must not say SERVING then.
	oomSeen atomic.Bool

	// refresh remembers the TTLs this replica set, to skip refreshing
	// them again too soon (see refreshes).
	refresh refreshes

	// recs is the replica-local side of the record layout; nil on the
	// keys layout.
	recs *records
}

var _ state.Store = (*Store)(nil)

// New returns a Store for o. It validates o and reads the TLS files it names
// but needs no server: a replica may start while Redis is down, and Ping
// says when it is ready. When the server answers within ctx, New loads the
// scripts, sparing the first batch a NOSCRIPT round trip.
func New(ctx context.Context, o Options) (*Store, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	uo, err := o.universal()
	if err != nil {
		return nil, err
	}
	s := &Store{client: goredis.NewUniversalClient(uo), prefix: o.prefix(), opts: o}
	if o.Layout != LayoutKeys {
		s.recs = &records{seed: maphash.MakeSeed()}
	}
	_ = s.loadScripts(ctx, allScripts) // best effort; Exec recovers from NOSCRIPT
	return s, nil
}

// Options returns the options the store was made with; log them through
// their String method, which hides passwords.
func (s *Store) Options() Options { return s.opts }

// Client returns the underlying go-redis client, for instrumentation (hooks,
// pool stats) and tests. Writing keys through it bypasses the contract.
func (s *Store) Client() goredis.UniversalClient { return s.client }

// Ping returns nil when Redis serves (on Cluster: when every master does)
// and an error wrapping state.ErrUnavailable otherwise: when a server does
// not answer; when it refuses writes for lack of memory, or refused a batch
// for it since the last Ping (ErrOutOfMemory); and while its
// maxmemory-policy evicts keys against the options (ErrEvictingPolicy, see
// CheckMemoryPolicy).
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("redis: store closed: %w", state.ErrUnavailable)
	}
	refused := s.oomSeen.Swap(false)
	if err := s.forEachServer(ctx, probe); err != nil {
		return err
	}
	if refused {
		return fmt.Errorf("%w (a batch was refused since the last Ping)", ErrOutOfMemory)
	}
	if s.policyChecked.Load() {
		return nil
	}
	_, err := s.CheckMemoryPolicy(ctx)
	switch {
	case err == nil, errors.Is(err, ErrPolicyUnknown):
		return nil
	case errors.Is(err, state.ErrUnavailable):
		return err
	}
	return fmt.Errorf("%w: %w", state.ErrUnavailable, err)
}

// Close releases the connections. Later calls to Exec and Ping fail with
// state.ErrUnavailable. Close is idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.client.Close()
}

// Exec runs b. On the record layout see execRecords and the package
// documentation. On the keys layout it runs b as one pipeline: one round
// trip on standalone and Sentinel, one per node on Cluster. The operations of one hash tag (one identity, one
// Cluster slot) run as one call of the group script, in queue order, as
// one atomic step; an operation alone on its tag that needs no script
// (a claim, say) is sent as its plain command. A group that finds the
// script missing from the server's cache (after a restart, failover or
// SCRIPT FLUSH) did not run at all: Exec loads the script and runs the
// group again, and since a group holds every operation of its keys, queue
// order per key holds.
func (s *Store) Exec(ctx context.Context, b *state.Batch) error {
	if s.closed.Load() {
		err := fmt.Errorf("redis: store closed: %w", state.ErrUnavailable)
		b.FailAll(err)
		return err
	}
	if err := ctx.Err(); err != nil {
		err = fmt.Errorf("redis: exec: %w", err)
		b.FailAll(err)
		return err
	}
	ops, pairs := splitPairs(b.Ops())
	defer resolvePairs(pairs)
	if s.recs != nil {
		return s.execRecords(ctx, ops)
	}
	return s.execKeys(ctx, ops)
}

// execKeys is Exec on the keys layout, of ops: the batch's operations
// with its window pairs split (see splitPairs).
func (s *Store) execKeys(ctx context.Context, ops []state.Op) error {
	calls := s.plan(ops)
	now := time.Now()
	groups := s.groupCalls(calls, now)
	for pass, pending := 1, groups; len(pending) > 0; pass++ {
		if err := s.run(ctx, pending); err != nil {
			return s.outage(ctx, ops, groups, err)
		}
		var again []*group
		for _, g := range pending {
			if isNoScript(g.cmd.Err()) {
				again = append(again, g)
			}
		}
		if len(again) == 0 || pass == maxPasses {
			break // after maxPasses the NOSCRIPT errors stay on those futures
		}
		if err := s.loadScripts(ctx, allScripts); err != nil {
			if unavailable(err) {
				return s.outage(ctx, ops, groups, err)
			}
			break
		}
		pending = again
	}
	for _, g := range groups {
		g.spread()
		for _, c := range g.calls {
			if unavailable(errors.Unwrap(c.err)) {
				// A script met OOM (or the like) on a write: the
				// server cannot serve, whatever it ran before.
				return s.outage(ctx, ops, groups, errors.Unwrap(c.err))
			}
		}
	}
	for _, g := range groups {
		g.recordRefreshes(&s.refresh, now)
		for _, c := range g.calls {
			c.resolve()
		}
	}
	return nil
}

// run sends the groups as one pipeline and returns an outage error, if any
// command met one. Per-command server errors stay on the commands.
func (s *Store) run(ctx context.Context, groups []*group) error {
	pipe := s.client.Pipeline()
	for _, g := range groups {
		g.cmd = goredis.NewCmd(ctx, g.args...)
		if g.script {
			g.cmd.SetFirstKeyPos(3)
		}
		_ = pipe.Process(ctx, g.cmd)
	}
	_, execErr := pipe.Exec(ctx)
	carried := false
	for _, g := range groups {
		err := g.cmd.Err()
		if unavailable(err) {
			return err
		}
		carried = carried || (err != nil && err == execErr)
	}
	if execErr != nil && !carried {
		// The pipeline failed before any command ran (a refused
		// connection set-up: WRONGPASS, NOAUTH, a bad HELLO); go-redis
		// reports it on Exec only, the commands carry nothing. Never let
		// them pass for answers.
		for _, g := range groups {
			g.cmd.SetErr(execErr)
		}
		return execErr
	}
	return nil
}

// outage resolves what executed, fails the rest and returns the error.
func (s *Store) outage(ctx context.Context, ops []state.Op, groups []*group, cause error) error {
	err := s.outageError(ctx, cause)
	for _, g := range groups {
		if g.cmd == nil {
			continue
		}
		if e := g.cmd.Err(); unavailable(e) || isNoScript(e) {
			continue
		}
		g.spread()
		for _, c := range g.calls {
			if !unavailable(errors.Unwrap(c.err)) {
				c.resolve() // it ran, or the server refused it on its own
			}
		}
	}
	state.FailAll(ops, err)
	return err
}

// outageError is the error a batch fails with when the server could not
// serve it: the caller's cancellation as it is, OOM as ErrOutOfMemory
// (which Ping then reports), anything else wrapping state.ErrUnavailable.
func (s *Store) outageError(ctx context.Context, cause error) error {
	switch {
	case errors.Is(cause, context.Canceled) && ctx.Err() != nil:
		return fmt.Errorf("redis: exec: %w", cause)
	case isOOM(cause):
		s.oomSeen.Store(true)
		return fmt.Errorf("redis: exec: %w (%w)", ErrOutOfMemory, cause)
	}
	return fmt.Errorf("redis: exec: %w: %w", state.ErrUnavailable, cause)
}

// loadScripts loads scripts into the script cache: on Cluster into every
// master's, as go-redis broadcasts SCRIPT LOAD there.
func (s *Store) loadScripts(ctx context.Context, scripts []*script) error {
	for _, sc := range scripts {
		if err := s.client.ScriptLoad(ctx, sc.src).Err(); err != nil {
			return fmt.Errorf("redis: load script %s: %w", sc.name, err)
		}
	}
	return nil
}

func isNoScript(err error) bool {
	return err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT")
}

// unavailable reports whether err means the server could not serve, rather
// than refusing one command: network and timeout errors, and the replies of
// a server that is loading, failing over, has lost its cluster or is out of
// memory (OOM, also when a script's write meets it).
func unavailable(err error) bool {
	if err == nil || errors.Is(err, goredis.Nil) {
		return false
	}
	var rerr goredis.Error
	if !errors.As(err, &rerr) {
		return true
	}
	msg := rerr.Error()
	for _, p := range []string{"LOADING", "CLUSTERDOWN", "MASTERDOWN", "TRYAGAIN", "READONLY", "NOREPLICAS", "BUSY ", "OOM "} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
