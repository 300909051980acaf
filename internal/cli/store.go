package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
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

// stateBudget is the --state-budget flag: the embedded store's memory
// budget in bytes, with an optional KiB, MiB or GiB suffix. Unset, the store
// takes its default (memory.MaxBytesFromEnv); 0 means no budget.
type stateBudget struct {
	n   int64
	set bool
}

const stateBudgetUsage = "memory budget of the embedded store, a `size` in bytes or with a KiB, MiB or GiB suffix: past it the least recently used identities are evicted whole; 0: no budget; default: half of GOMEMLIMIT when set, else 1GiB"

func (b *stateBudget) String() string {
	if b == nil || !b.set {
		return ""
	}
	return strconv.FormatInt(b.n, 10)
}

func (b *stateBudget) Set(s string) error {
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = v, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("want a size in bytes such as 536870912, 512MiB or 2GiB, got %q", s)
	}
	b.n, b.set = n*mult, true
	return nil
}

func (b *stateBudget) options() []memory.Option {
	if !b.set {
		return nil
	}
	return []memory.Option{memory.WithMaxBytes(b.n)}
}

// openStore opens the state store the setting names, the embedded store
// within budget when the setting is empty. It does not wait for Redis to
// answer: serve reports NOT_SERVING until it does. It refuses a Redis whose
// maxmemory-policy evicts keys unless the setting allows it
// (checkEviction); log, when not nil, gets the warnings.
func openStore(ctx context.Context, setting string, budget stateBudget, log *slog.Logger) (state.Store, string, error) {
	if setting == "" {
		s := memory.New(budget.options()...)
		limit := "no memory budget"
		if n := s.Stats().MaxBytes; n > 0 {
			limit = fmt.Sprintf("memory budget %.0f MiB", float64(n)/(1<<20))
		}
		return s, "memory (embedded, " + limit + "; single replica only: replicas would not share state)", nil
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
