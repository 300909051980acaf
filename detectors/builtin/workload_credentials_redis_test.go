package builtin_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// TestWorkloadCredentialsOnRedis runs the detector's scenario and shuffle
// suites, unchanged, on a real redis-server.
func TestWorkloadCredentialsOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	newStore := func(tb testing.TB) state.Store { return open(tb) }
	t.Run("scenarios", func(t *testing.T) { runWorkloadScenarios(t, newStore) })
	t.Run("shuffled", func(t *testing.T) { runWorkloadShuffled(t, newStore) })
}
