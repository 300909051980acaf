// Package rstore opens Redis state stores for tests: each store gets a key
// prefix of its own, so many stores (one per subtest, one per simulated
// replica) can share one real redis-server without seeing each other's
// keys, as separate deployments would.
package rstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
	redisstate "github.com/iamsentry/iamsentry/state/redis"
)

var seq atomic.Int64

// Prefix returns a key prefix no other store of this test binary uses.
func Prefix() string {
	return fmt.Sprintf("t%d-%d:", time.Now().UnixNano()%1e9, seq.Add(1))
}

// Open opens a store on the Redis at url under prefix, closed when t ends.
func Open(t testing.TB, url, prefix string) *redisstate.Store {
	t.Helper()
	opts, err := redisstate.ParseOptions(url)
	if err != nil {
		t.Fatalf("rstore: %v", err)
	}
	opts.Prefix = prefix
	s, err := redisstate.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("rstore: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Factory returns a constructor of fresh, isolated stores on one
// redis-server started for t.
func Factory(t testing.TB) func(testing.TB) state.Store {
	srv := redistest.StartServer(t)
	return func(tb testing.TB) state.Store { return Open(tb, srv.URL(), Prefix()) }
}
