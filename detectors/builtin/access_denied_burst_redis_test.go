package builtin_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// TestAccessDeniedBurstOnRedis runs the detector's scenario, in order and
// shuffled, unchanged on a real redis-server.
func TestAccessDeniedBurstOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	runDeniedScenarios(t, func(tb testing.TB) state.Store { return open(tb) })
}
