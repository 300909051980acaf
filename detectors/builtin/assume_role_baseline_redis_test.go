package builtin_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// TestAssumeRoleUnexpectedSourceOnRedis runs the sign-in baseline
// scenarios and the shuffled delivery suite, unchanged, on a real
// redis-server.
func TestAssumeRoleUnexpectedSourceOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	newStore := func(tb testing.TB) state.Store { return open(tb) }
	t.Run("scenarios", func(t *testing.T) { runARUSScenarios(t, newStore) })
	t.Run("shuffled", func(t *testing.T) { arsShuffled(t, newStore) })
}
