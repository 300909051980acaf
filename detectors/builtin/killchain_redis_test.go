package builtin_test

import (
	"slices"
	"testing"
	"time"

	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// TestKillChainOnRedis runs the scenarios of logging-tampering,
// offensive-tooling and access-denied-burst, in order and shuffled,
// unchanged on a real redis-server.
func TestKillChainOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	newStore := func(tb testing.TB) state.Store { return open(tb) }
	t.Run("logging-tampering", func(t *testing.T) { runTamperScenarios(t, newStore) })
	t.Run("offensive-tooling", func(t *testing.T) { runToolingScenarios(t, newStore) })
	t.Run("access-denied-burst", func(t *testing.T) { runDeniedScenarios(t, newStore) })
}

// TestKillChainOnRedisCluster runs the same scenarios on a three-master
// Redis Cluster: every operation keeps its keys on one slot.
func TestKillChainOnRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cluster := redistest.StartCluster(t, 3)
	newStore := func(tb testing.TB) state.Store { return rstore.Open(tb, cluster.URL(), rstore.Prefix()) }
	t.Run("logging-tampering", func(t *testing.T) { runTamperScenarios(t, newStore) })
	t.Run("offensive-tooling", func(t *testing.T) { runToolingScenarios(t, newStore) })
	t.Run("access-denied-burst", func(t *testing.T) { runDeniedScenarios(t, newStore) })
}

// checkIncidentsShuffled checks that incidents of stream, in event-time
// order and in seeds delivery orders shuffled within the allowed lateness,
// are want.
func checkIncidentsShuffled(t *testing.T, stream []dt.Rec, seeds uint64, incidents func([]dt.Rec) []string, want []string) {
	t.Helper()
	if got := incidents(stream); !slices.Equal(got, want) {
		t.Fatalf("in order: %v, want %v", got, want)
	}
	for seed := range seeds {
		if got := incidents(shuffleWithin(stream, 15*time.Minute, seed)); !slices.Equal(got, want) {
			t.Errorf("seed %d: %v, want %v", seed, got, want)
		}
	}
}
