package builtin_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// TestStatefulDetectorsOnRedis runs the scenario and shuffle suites of the
// stateful detectors, unchanged, on a real redis-server: their semantics
// must hold on the shared backend as on the embedded one. Every scenario
// gets a store of its own (a key prefix of its own) on one server.
func TestStatefulDetectorsOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	newStore := func(tb testing.TB) state.Store { return open(tb) }
	t.Run("access-key-enumeration", func(t *testing.T) { enumerationScenarios(t, newStore) })
	t.Run("access-key-enumeration/shuffled", func(t *testing.T) { enumerationShuffled(t, newStore) })
	t.Run("access-key-enumeration/shaping", func(t *testing.T) { enumerationShaping(t, newStore) })
	t.Run("access-key-enumeration/scanners", func(t *testing.T) { enumerationScanners(t, newStore) })
	t.Run("access-key-enumeration/console", func(t *testing.T) { enumerationConsole(t, newStore) })
	t.Run("caller-identity-recon", func(t *testing.T) { reconScenarios(t, newStore) })
	t.Run("caller-identity-recon/shuffled", func(t *testing.T) { reconShuffled(t, newStore) })
	t.Run("access-key-new-location", func(t *testing.T) { runNewLocationScenarios(t, newStore) })
	t.Run("privileged-role-assumption-spike", func(t *testing.T) { runSpikeScenarios(t, newStore) })
}
