package state_test

import (
	"context"
	"testing"

	"github.com/iamsentry/iamsentry/state"
)

type plainStore struct{}

func (plainStore) Exec(context.Context, *state.Batch) error { return nil }
func (plainStore) Ping(context.Context) error               { return nil }
func (plainStore) Close() error                             { return nil }

type groupingStore struct{ plainStore }

func (groupingStore) GroupsIdentities() bool { return true }

type wrapper struct{ state.Store }

func (w wrapper) Unwrap() state.Store { return w.Store }

// TestGroupsIdentities: a store says it groups identities through
// IdentityGrouper, also from behind wrappers that Unwrap; anything else
// does not.
func TestGroupsIdentities(t *testing.T) {
	for _, c := range []struct {
		name string
		s    state.Store
		want bool
	}{
		{"plain", plainStore{}, false},
		{"grouping", groupingStore{}, true},
		{"wrapped grouping", wrapper{wrapper{groupingStore{}}}, true},
		{"wrapped plain", wrapper{plainStore{}}, false},
		{"nil", nil, false},
	} {
		if got := state.GroupsIdentities(c.s); got != c.want {
			t.Errorf("%s: GroupsIdentities = %v, want %v", c.name, got, c.want)
		}
	}
}
