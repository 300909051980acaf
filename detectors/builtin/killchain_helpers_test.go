package builtin_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// Helpers shared by the tests of the kill-chain detectors (root use,
// console sign-in without MFA, MFA removal, password policy).

// runOnRedis runs a scenario function, unchanged, on a real redis-server.
func runOnRedis(t *testing.T, run func(*testing.T, newStoreFunc)) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	run(t, func(tb testing.TB) state.Store { return open(tb) })
}

// checkPantherSeverities scores each case of a Panther slice in
// testdata/panther on a fresh detector: a case named in want must raise
// exactly that severity, any other case nothing. Where this differs from
// Panther's verdict, the caller's want map says why.
func checkPantherSeverities(t *testing.T, file string, newDet func() detectors.Detector, want map[string]detectors.Severity) {
	for _, c := range dt.PantherCases(t, filepath.Join("testdata", "panther", file)) {
		t.Run(c.RuleID+"/"+c.TestName, func(t *testing.T) {
			d := newDet()
			var got []detectors.Severity
			for _, f := range dt.Only(d.Info().ID, dt.New(t, d).ScoreRaw(c.Event)) {
				got = append(got, f.Severity)
			}
			exp, ok := want[c.TestName]
			switch {
			case ok && !slices.Equal(got, []detectors.Severity{exp}):
				t.Errorf("got %v, want %v", got, exp)
			case !ok && len(got) > 0:
				t.Errorf("got %v, want nothing (Panther: %v)", got, c.Expected)
			}
		})
	}
}
