package redis_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/statetest"
)

// TestConformanceSentinel runs the suite on a real master reached through
// a real Sentinel (?master_name=), one Store shared by every rule: the
// record layout's script calls batch several records on Sentinel as on
// standalone, and must keep the contract there too.
func TestConformanceSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and a Sentinel")
	}
	master := redistest.StartServer(t)
	sentinel := redistest.StartSentinel(t, master, "main")
	s := newStore(t, "redis://"+sentinel+"?master_name=main")
	statetest.Run(t, statetest.Harness{New: func(*testing.T) state.Store { return s }})
}
