package benign_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/internal/benign"
	"github.com/iamsentry/iamsentry/internal/benign/benigntest"
	"github.com/iamsentry/iamsentry/internal/racetest"
)

// TestBenignStoriesStayLow scores the benign month with the configurations
// issue 14's acceptance names, (b) defaults with GeoIP, accounts and
// trusted networks, and (c) the recommended one, and asserts that it
// forms no attack story above LOW: a benign finding may be HIGH on its
// own (a scanner's first days, an admin assignment), but one actor's
// ordinary day is no chain of stages. It also asserts that no story joins
// two people: links follow one actor's chain, never a role or a network
// people share.
func TestBenignStoriesStayLow(t *testing.T) {
	if testing.Short() {
		t.Skip("scores a month of benign traffic twice")
	}
	racetest.SkipLong(t)
	c := benign.Generate(benign.Options{Seed: 1})
	for _, run := range []struct{ name, yaml string }{
		{"(b) defaults + GeoIP + accounts + trusted_networks", benigntest.WithGeoIP(t, benigntest.Basic())},
		{"(c) recommended", benigntest.Recommended(t)},
	} {
		t.Run(run.name, func(t *testing.T) {
			n := score(t, c, build(t, run.yaml))
			if len(n.stories) == 0 {
				t.Fatal("the month formed no story: the test would prove nothing")
			}
			for _, st := range n.stories.above(detectors.SeverityLow) {
				t.Errorf("benign story %s with %d stage(s) %v: %s", st.Severity, len(st.Stages), st.Stages, st.Summary)
			}
			for _, st := range n.stories {
				if ps := people(st); len(ps) > 1 {
					t.Errorf("benign story joins %d people %v: %s", len(ps), ps, st.Summary)
				}
			}
			t.Logf("%d stories by severity %v", len(n.stories), n.stories.bySeverity())
		})
	}
}
