package redis_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/statetest"
)

// The keys layout (layout=keys) passes the conformance suite as the
// default record layout does (TestConformance and its siblings): one Store
// per rule on one server, one Store shared by every rule, and a 3-master
// Cluster through a seed node.

func TestKeysConformance(t *testing.T) {
	srv := redistest.StartServer(t)
	statetest.Run(t, statetest.Harness{
		New: func(t *testing.T) state.Store { return newStore(t, srv.URL()+"?layout=keys") },
	})
}

func TestKeysConformanceShared(t *testing.T) {
	s := newStore(t, redistest.StartServer(t).URL()+"?layout=keys")
	statetest.Run(t, statetest.Harness{New: func(*testing.T) state.Store { return s }})
}

func TestKeysConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node Redis Cluster")
	}
	c := redistest.StartCluster(t, 3)
	s := newStore(t, c.SeedURL()+"&layout=keys")
	statetest.Run(t, statetest.Harness{New: func(*testing.T) state.Store { return s }})
}
