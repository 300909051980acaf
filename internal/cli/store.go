package cli

import (
	"context"
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
// Redis to answer: serve reports NOT_SERVING until it does.
func openStore(ctx context.Context, setting string) (state.Store, string, error) {
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
	return s, "redis " + opts.String() + " (shared: any number of replicas)", nil
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
