package builtin_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// TestAdminGrantsOnRedis runs admin-policy-attached's scenarios and order
// rules, unchanged, on a real redis-server.
func TestAdminGrantsOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	newStore := func(tb testing.TB) state.Store { return open(tb) }
	t.Run("scenarios", func(t *testing.T) { runAdminScenarios(t, newStore) })
	t.Run("orders", func(t *testing.T) { runAdminOrders(t, newStore) })
	t.Run("shuffled", func(t *testing.T) { runAdminShuffled(t, newStore) })
}
