package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
	redisstate "github.com/iamsentry/iamsentry/state/redis"
)

// redisSetting picks the Redis setting: the --redis flag, else $REDIS_URL,
// else the configuration's redis.url; "" means the embedded store. It also
// says where the setting came from, for the start-up log.
func redisSetting(flagValue string, l *loadedConfig) (setting, source string) {
	switch {
	case flagValue != "":
		return flagValue, "--redis"
	case os.Getenv("REDIS_URL") != "":
		return os.Getenv("REDIS_URL"), "REDIS_URL"
	case l.RedisURL != "":
		return l.RedisURL, "config redis.url"
	}
	return "", ""
}

// openStore opens the state store the setting names. It does not wait for
// Redis to answer: serve reports NOT_SERVING until it does. It refuses a
// Redis whose maxmemory-policy evicts keys unless the setting allows it
// (checkEviction); log, when not nil, gets the warnings.
func openStore(ctx context.Context, setting string, log *slog.Logger) (state.Store, string, error) {
	if setting == "" {
		return memory.New(), "memory (embedded; single replica only: replicas would not share state)", nil
	}
	opts, err := redisstate.ParseOptions(setting)
	if err != nil {
		return nil, "", fmt.Errorf("redis setting: %w", err)
	}
	s, err := redisstate.New(ctx, opts)
	if err != nil {
		return nil, "", fmt.Errorf("redis %s: %w", opts, err)
	}
	if err := checkEviction(ctx, s, log); err != nil {
		s.Close()
		return nil, "", fmt.Errorf("redis %s: %w", opts, err)
	}
	return s, "redis " + opts.String() + " (shared: any number of replicas)", nil
}

// policyCheckTimeout bounds the start-up check of maxmemory-policy: a Redis
// that is down is checked later, by readiness.
const policyCheckTimeout = 5 * time.Second

// checkEviction refuses a Redis that evicts keys under memory pressure:
// eviction drops dedupe claims and windows without a trace, so an identity
// flood would make redeliveries alert again and hide bursts. A policy that
// cannot be read (managed Redis refuses CONFIG), or one allowed by
// allow_eviction=true, is warned about; a Redis that does not answer yet is
// checked when it does, and the replica stays NOT_SERVING until then.
func checkEviction(ctx context.Context, s *redisstate.Store, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cctx, cancel := context.WithTimeout(ctx, policyCheckTimeout)
	defer cancel()
	policy, err := s.CheckMemoryPolicy(cctx)
	switch {
	case errors.Is(err, redisstate.ErrEvictingPolicy):
		return err
	case errors.Is(err, redisstate.ErrPolicyUnknown):
		log.Warn("Redis maxmemory-policy unknown: make sure it is noeviction, or an identity flood will evict detection state",
			slog.Any("error", err))
	case err != nil:
		log.Warn("Redis maxmemory-policy not checked yet; readiness waits until Redis answers and the policy is checked",
			slog.Any("error", err))
	case policy != redisstate.NoEviction:
		log.Warn("Redis EVICTS KEYS under memory pressure (allowed by allow_eviction=true): "+
			"dedupe claims and windows may be dropped silently; redeliveries may alert again and bursts go unseen",
			slog.String("maxmemory_policy", policy))
	}
	return nil
}

// waitForStore waits until the store answers or ctx ends, logging while it
// waits; scan needs its store before it starts.
func waitForStore(ctx context.Context, s state.Store, log *slog.Logger) error {
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := s.Ping(pctx)
		cancel()
		if err == nil {
			return nil
		}
		if log != nil {
			log.Warn("state store not answering yet", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("state store: %w", err)
		case <-time.After(time.Second):
		}
	}
}
