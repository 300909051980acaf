package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/redis"
)

func configSet(t *testing.T, srv *redistest.Server, kv ...string) {
	t.Helper()
	c := srv.Client()
	for i := 0; i+1 < len(kv); i += 2 {
		if err := c.ConfigSet(context.Background(), kv[i], kv[i+1]).Err(); err != nil {
			t.Fatalf("CONFIG SET %s %s: %v", kv[i], kv[i+1], err)
		}
	}
}

func pingCtx(s *redis.Store) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Ping(ctx)
}

// An evicting maxmemory-policy drops detection state without a trace
// (issue 16, defect 3): the store refuses it, and is never ready on it,
// unless the setting says allow_eviction=true.
func TestMemoryPolicyRefusesEviction(t *testing.T) {
	srv := redistest.StartServer(t)
	for _, policy := range []string{"allkeys-lru", "volatile-ttl", "volatile-lru", "allkeys-random"} {
		t.Run(policy, func(t *testing.T) {
			configSet(t, srv, "maxmemory-policy", policy)
			s := newStore(t, srv.URL())
			got, err := s.CheckMemoryPolicy(context.Background())
			if !errors.Is(err, redis.ErrEvictingPolicy) || got != policy {
				t.Errorf("CheckMemoryPolicy = %q, %v; want %q and ErrEvictingPolicy", got, err, policy)
			}
			if err := pingCtx(s); !errors.Is(err, redis.ErrEvictingPolicy) || !errors.Is(err, state.ErrUnavailable) {
				t.Errorf("Ping on an evicting server = %v; want ErrEvictingPolicy wrapping state.ErrUnavailable (never ready)", err)
			}

			allowed := newStore(t, srv.URL()+"?allow_eviction=true")
			got, err = allowed.CheckMemoryPolicy(context.Background())
			if err != nil || got != policy {
				t.Errorf("with allow_eviction: CheckMemoryPolicy = %q, %v; want %q, nil", got, err, policy)
			}
			if err := pingCtx(allowed); err != nil {
				t.Errorf("with allow_eviction: Ping = %v, want nil", err)
			}
		})
	}
	// Set to noeviction at run time, the refused store turns ready.
	configSet(t, srv, "maxmemory-policy", "volatile-ttl")
	s := newStore(t, srv.URL())
	if err := pingCtx(s); err == nil {
		t.Fatal("Ping on volatile-ttl = nil")
	}
	configSet(t, srv, "maxmemory-policy", redis.NoEviction)
	if err := pingCtx(s); err != nil {
		t.Errorf("Ping after CONFIG SET maxmemory-policy noeviction = %v, want nil", err)
	}
	if got, err := s.CheckMemoryPolicy(context.Background()); err != nil || got != redis.NoEviction {
		t.Errorf("CheckMemoryPolicy on noeviction = %q, %v", got, err)
	}
}

// Managed Redis often refuses CONFIG: the policy is then unknown, which is
// reported but does not keep the store from serving.
func TestMemoryPolicyUnknown(t *testing.T) {
	srv := redistest.StartServer(t)
	c := srv.Client()
	if err := c.Do(context.Background(), "ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all", "-config").Err(); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, "redis://app:pw@"+srv.Addr())
	if _, err := s.CheckMemoryPolicy(context.Background()); !errors.Is(err, redis.ErrPolicyUnknown) {
		t.Errorf("CheckMemoryPolicy without CONFIG permission = %v, want ErrPolicyUnknown", err)
	}
	if err := pingCtx(s); err != nil {
		t.Errorf("Ping with the policy unknown = %v, want nil", err)
	}
}

// Under noeviction a full Redis refuses writes with OOM. That is an outage
// (retry later), not a failed command: Exec fails with ErrOutOfMemory,
// which wraps state.ErrUnavailable, and Ping says so until memory is freed.
func TestOutOfMemoryIsUnavailable(t *testing.T) {
	srv := redistest.StartServer(t)
	s := newStore(t, srv.URL())
	var b state.Batch
	everyOp(&b, "t", "warm")
	exec(t, s, &b)
	if err := pingCtx(s); err != nil {
		t.Fatalf("Ping before maxmemory: %v", err)
	}

	configSet(t, srv, "maxmemory", "1")
	ctx := context.Background()
	b = state.Batch{}
	futures := everyOp(&b, "t", "flood")
	err := s.Exec(ctx, &b)
	if !errors.Is(err, redis.ErrOutOfMemory) || !errors.Is(err, state.ErrUnavailable) {
		t.Errorf("Exec on a full server = %v; want ErrOutOfMemory wrapping state.ErrUnavailable", err)
	}
	// The claim was refused, so the retry is scored, not DUPLICATE. (A
	// script that wrote before its first growing command, and reads, may
	// still run: Redis stops a script only at its first write.)
	if err := futures[0](); !errors.Is(err, state.ErrUnavailable) {
		t.Errorf("claim on a full server = %v; want state.ErrUnavailable", err)
	}
	for i, f := range futures {
		if err := f(); err != nil && !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("future %d on a full server = %v; want nil or state.ErrUnavailable", i, err)
		}
	}
	if err := pingCtx(s); !errors.Is(err, redis.ErrOutOfMemory) || !errors.Is(err, state.ErrUnavailable) {
		t.Errorf("Ping on a full server = %v; want ErrOutOfMemory wrapping state.ErrUnavailable", err)
	}

	configSet(t, srv, "maxmemory", "0")
	if err := pingCtx(s); err != nil {
		t.Errorf("Ping after raising maxmemory = %v, want nil", err)
	}
	b = state.Batch{}
	everyOp(&b, "t", "flood")
	exec(t, s, &b)

	// At the edge of maxmemory, Ping's small probe may fit while batches
	// are refused: a refused batch makes the next Ping fail all the same.
	configSet(t, srv, "maxmemory", "1")
	b = state.Batch{}
	everyOp(&b, "t", "edge")
	if err := s.Exec(ctx, &b); !errors.Is(err, redis.ErrOutOfMemory) {
		t.Fatalf("Exec on a full server = %v; want ErrOutOfMemory", err)
	}
	configSet(t, srv, "maxmemory", "0")
	if err := pingCtx(s); !errors.Is(err, redis.ErrOutOfMemory) {
		t.Errorf("first Ping after a refused batch = %v; want ErrOutOfMemory", err)
	}
	if err := pingCtx(s); err != nil {
		t.Errorf("second Ping, no batch refused since = %v; want nil", err)
	}
}
