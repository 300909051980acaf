package instrumented_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/instrumented"
	"github.com/iamsentry/iamsentry/state/memory"
	"github.com/iamsentry/iamsentry/state/statetest"
)

// The wrapper measures; it must not change what the store it wraps does.
func TestConformance(t *testing.T) {
	newStore := func(t *testing.T) state.Store {
		s := instrumented.Wrap(memory.New(), instrumented.Options{})
		t.Cleanup(func() { s.Close() })
		return s
	}
	statetest.Run(t, statetest.Harness{New: newStore})
	statetest.Lifecycle(t, func(*testing.T) state.Store { return instrumented.Wrap(memory.New(), instrumented.Options{}) })
}
