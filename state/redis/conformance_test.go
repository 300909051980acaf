package redis_test

import (
	"context"
	"testing"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/redis"
	"github.com/iamsentry/iamsentry/state/statetest"
)

// newStore opens a Store on the deployment that setting names and closes it
// when the test ends.
func newStore(t testing.TB, setting string) *redis.Store {
	t.Helper()
	o, err := redis.ParseOptions(setting)
	if err != nil {
		t.Fatalf("ParseOptions(%q): %v", setting, err)
	}
	s, err := redis.New(context.Background(), o)
	if err != nil {
		t.Fatalf("New(%v): %v", o, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the suite on a real standalone redis-server, one
// Store per rule, all on one server as replicas share one.
func TestConformance(t *testing.T) {
	srv := redistest.StartServer(t)
	statetest.Run(t, statetest.Harness{
		New: func(t *testing.T) state.Store { return newStore(t, srv.URL()) },
	})
}

// TestConformanceShared runs the suite against one Store shared by every
// rule, as a long-lived replica would use it.
func TestConformanceShared(t *testing.T) {
	s := newStore(t, redistest.StartServer(t).URL())
	statetest.Run(t, statetest.Harness{New: func(*testing.T) state.Store { return s }})
}

// TestConformanceCluster runs the suite on a real 3-master Redis Cluster,
// reached through a single seed node: every multi-command operation is a
// one-key script, and pipelines span the nodes.
func TestConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node Redis Cluster")
	}
	c := redistest.StartCluster(t, 3)
	s := newStore(t, c.SeedURL())
	statetest.Run(t, statetest.Harness{New: func(*testing.T) state.Store { return s }})
}
