package detectors_test

import (
	"slices"
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// anyEvent is a detector that may act on any event.
type anyEvent struct{ id string }

func (d anyEvent) Info() detectors.Info {
	return detectors.Info{ID: d.id, Title: d.id, Severity: detectors.SeverityLow, Techniques: []string{"T1078"}}
}

func (anyEvent) Observe(*detectors.Event, *state.Batch) detectors.Evaluation { return nil }

// selective is a detector that acts on its calls only.
type selective struct {
	anyEvent
	calls []detectors.Call
}

func (d selective) Interests() []detectors.Call { return d.calls }

func ids(ds []detectors.Detector) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Info().ID)
	}
	return out
}

// TestObservers checks that Registry.Observers returns, in registration
// order, the detectors that act on any event and those whose Interests
// name the call or its whole source, and no other.
func TestObservers(t *testing.T) {
	reg, err := detectors.NewRegistry(
		selective{anyEvent{"iam-attach"}, []detectors.Call{{Source: "iam.amazonaws.com", Name: "AttachUserPolicy"}}},
		anyEvent{"baseline"},
		selective{anyEvent{"sts-all"}, []detectors.Call{{Source: "sts.amazonaws.com"}}},
		selective{anyEvent{"sts-assume"}, []detectors.Call{{Source: "sts.amazonaws.com", Name: "AssumeRole"}, {Source: "iam.amazonaws.com", Name: "CreateRole"}}},
		detectors.WithSeverity(selective{anyEvent{"overridden"}, []detectors.Call{{Source: "iam.amazonaws.com", Name: "CreateRole"}}}, detectors.SeverityHigh),
		anyEvent{"last"},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		source, name string
		want         []string
	}{
		{"s3.amazonaws.com", "GetObject", []string{"baseline", "last"}},
		{"", "", []string{"baseline", "last"}},
		{"iam.amazonaws.com", "AttachUserPolicy", []string{"iam-attach", "baseline", "last"}},
		{"iam.amazonaws.com", "CreateRole", []string{"baseline", "sts-assume", "overridden", "last"}},
		{"iam.amazonaws.com", "ListRoles", []string{"baseline", "last"}},
		{"sts.amazonaws.com", "AssumeRole", []string{"baseline", "sts-all", "sts-assume", "last"}},
		{"sts.amazonaws.com", "GetCallerIdentity", []string{"baseline", "sts-all", "last"}},
		// Names are matched exactly, as the records carry them.
		{"sts.amazonaws.com", "assumerole", []string{"baseline", "sts-all", "last"}},
		{"IAM.amazonaws.com", "CreateRole", []string{"baseline", "last"}},
	} {
		if got := ids(reg.Observers(tt.source, tt.name)); !slices.Equal(got, tt.want) {
			t.Errorf("Observers(%q, %q) = %v, want %v", tt.source, tt.name, got, tt.want)
		}
	}
	off, err := reg.WithEnabled(map[string]bool{"baseline": false, "sts-assume": false})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(off.Observers("sts.amazonaws.com", "AssumeRole")), []string{"sts-all", "last"}; !slices.Equal(got, want) {
		t.Errorf("with baseline and sts-assume off: Observers = %v, want %v", got, want)
	}
	if got, want := ids(off.Observers("iam.amazonaws.com", "CreateRole")), []string{"overridden", "last"}; !slices.Equal(got, want) {
		t.Errorf("with baseline and sts-assume off: Observers = %v, want %v", got, want)
	}
}

// TestObserversOfEveryCall checks, over every call the detectors of a
// registry name and some they do not, that Observers is Enabled less the
// Selective detectors whose Interests leave the call out.
func TestObserversOfEveryCall(t *testing.T) {
	ds := []detectors.Detector{
		selective{anyEvent{"a"}, []detectors.Call{{Source: "x", Name: "1"}, {Source: "y"}}},
		anyEvent{"b"},
		selective{anyEvent{"c"}, []detectors.Call{{Source: "x", Name: "2"}, {Source: "y", Name: "1"}}},
		selective{anyEvent{"d"}, nil},
	}
	reg, err := detectors.NewRegistry(ds...)
	if err != nil {
		t.Fatal(err)
	}
	for _, source := range []string{"x", "y", "z", ""} {
		for _, name := range []string{"1", "2", "3", ""} {
			var want []string
			for _, d := range reg.Enabled() {
				calls, ok := detectors.InterestsOf(d)
				if !ok || slices.Contains(calls, detectors.Call{Source: source}) ||
					slices.Contains(calls, detectors.Call{Source: source, Name: name}) {
					want = append(want, d.Info().ID)
				}
			}
			if got := ids(reg.Observers(source, name)); !slices.Equal(got, want) {
				t.Errorf("Observers(%q, %q) = %v, want %v", source, name, got, want)
			}
		}
	}
}
