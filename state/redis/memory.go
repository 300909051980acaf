package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iamsentry/iamsentry/state"
)

// NoEviction is the one maxmemory-policy under which Redis never drops a key
// to make room: a full server refuses writes (OOM) instead.
const NoEviction = "noeviction"

// ErrEvictingPolicy marks a server whose maxmemory-policy evicts keys while
// Options.AllowEviction is unset. Eviction forgets detection state without a
// trace: an identity flood pushes out dedupe claims (redeliveries alert
// again) and windows (bursts split by the flood raise nothing).
var ErrEvictingPolicy = errors.New("redis: maxmemory-policy evicts keys, which silently drops detection state: " +
	"set maxmemory-policy noeviction, or accept the loss with allow_eviction=true in the Redis URL")

// ErrPolicyUnknown marks a server that refused to say its maxmemory-policy:
// managed services often rename or deny CONFIG.
var ErrPolicyUnknown = errors.New("redis: maxmemory-policy unknown (CONFIG GET refused)")

// ErrOutOfMemory marks a server that refuses writes because used memory is
// above maxmemory (the OOM reply under noeviction). It wraps
// state.ErrUnavailable: the batch did not run and may be retried once
// memory is freed or maxmemory raised.
var ErrOutOfMemory = fmt.Errorf("redis: out of memory: used memory above maxmemory, writes refused: %w", state.ErrUnavailable)

// oomProbe is a script that writes nothing but declares that it may
// (a shebang without the no-writes or allow-oom flag): Redis 7 refuses to
// run it with an OOM error exactly while it would refuse writes. Older
// servers reject the shebang with another error, which Ping ignores.
const oomProbe = "#!lua\nreturn 1"

// CheckMemoryPolicy reads maxmemory-policy (CONFIG GET) from the server, on
// Cluster from every master, and returns the first policy found that evicts,
// else NoEviction. Its error wraps ErrEvictingPolicy when a server evicts
// and Options.AllowEviction is unset; ErrPolicyUnknown when a server refuses
// CONFIG GET (the policy is then taken on trust); state.ErrUnavailable when
// a server does not answer. Until it has returned nil or ErrPolicyUnknown,
// Ping runs it again and reports the store unavailable, so a replica never
// turns ready on an evicting server, even one that was down at start.
func (s *Store) CheckMemoryPolicy(ctx context.Context) (string, error) {
	var (
		mu                   sync.Mutex
		evicting             string
		unknown, unreachable error
	)
	_ = s.forEachServer(ctx, func(ctx context.Context, c goredis.Cmdable) error {
		kv, err := c.ConfigGet(ctx, "maxmemory-policy").Result()
		p, ok := kv["maxmemory-policy"]
		mu.Lock()
		defer mu.Unlock()
		switch {
		case unavailable(err):
			unreachable = fmt.Errorf("redis: CONFIG GET maxmemory-policy: %w: %w", state.ErrUnavailable, err)
		case err != nil:
			unknown = fmt.Errorf("%w: %w", ErrPolicyUnknown, err)
		case !ok:
			unknown = ErrPolicyUnknown
		case p != NoEviction && evicting == "":
			evicting = p
		}
		return nil
	})
	switch {
	case evicting != "" && !s.opts.AllowEviction:
		return evicting, fmt.Errorf("maxmemory-policy %s: %w", evicting, ErrEvictingPolicy)
	case unreachable != nil:
		return "", unreachable
	}
	s.policyChecked.Store(true)
	if evicting != "" {
		return evicting, unknown
	}
	if unknown != nil {
		return "", unknown
	}
	return NoEviction, nil
}

// forEachServer calls fn on the server, on Cluster on every master
// concurrently, and returns the first error.
func (s *Store) forEachServer(ctx context.Context, fn func(context.Context, goredis.Cmdable) error) error {
	if c, ok := s.client.(*goredis.ClusterClient); ok {
		return c.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error { return fn(ctx, m) })
	}
	return fn(ctx, s.client)
}

// probe sends PING and the OOM probe in one round trip: the server must
// answer, and must accept writes.
func probe(ctx context.Context, c goredis.Cmdable) error {
	pipe := c.Pipeline()
	ping := pipe.Ping(ctx)
	oom := pipe.Eval(ctx, oomProbe, nil)
	_, err := pipe.Exec(ctx)
	switch {
	case ping.Err() != nil:
		err = ping.Err()
	case err != nil && err == oom.Err():
		err = nil // the probe's own answer, read below
	}
	// What is left failed before any command ran (a refused connection
	// set-up: WRONGPASS, NOAUTH), which go-redis reports on Exec only.
	if err != nil {
		return fmt.Errorf("redis: ping: %w: %w", state.ErrUnavailable, err)
	}
	if err := oom.Err(); isOOM(err) {
		return fmt.Errorf("%w (%w)", ErrOutOfMemory, err)
	}
	return nil
}

func isOOM(err error) bool {
	return err != nil && goredis.HasErrorPrefix(err, "OOM")
}
