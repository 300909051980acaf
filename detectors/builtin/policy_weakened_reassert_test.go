package builtin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// The realistic month's weakened-policy on dev-12 (2025-03-29): a second
// stolen key wrote Action * on Resource * as the default version of a
// policy a first stolen key had already made admin three days before. It
// adds nothing over the stored version, and was silent.

type reassertCase struct {
	name   string
	stream []dt.Rec
	want   detectors.Severity // on the last record; 0: none
}

func reassertCases() []reassertCase {
	day := 24 * time.Hour
	return []reassertCase{
		{"admin written again as a new default version is HIGH", []dt.Rec{
			createPolicy("ops", doc(stS3Read), t0), createVersion(doc(stAdmin), "v2", true, t0.Add(day)),
			createVersion(doc(stAdmin), "v3", true, t0.Add(3*day))}, detectors.SeverityHigh},
		{"admin written again with other statements is HIGH", []dt.Rec{
			createPolicy("ops", doc(stAdmin), t0), createVersion(doc(stAdmin, stS3Read), "v2", true, t0.Add(day))}, detectors.SeverityHigh},
		{"rolling back to another admin version is HIGH", []dt.Rec{
			createPolicy("ops", doc(stAdmin), t0), createVersion(doc(stAdmin, stS3Read), "v2", false, t0.Add(time.Hour)),
			setDefault("v2", t0.Add(day))}, detectors.SeverityHigh},
		// Quiet twins.
		{"a broad non-admin grant rewritten unchanged is quiet", []dt.Rec{
			createPolicy("ops", doc(stPass), t0), createVersion(doc(stPass, stS3Read), "v2", true, t0.Add(day))}, 0},
		{"admin only under MFA rewritten is quiet", []dt.Rec{
			createPolicy("ops", doc(stMFAAdm), t0), createVersion(doc(stMFAAdm, stS3Read), "v2", true, t0.Add(day))}, 0},
		{"narrowing an admin policy is quiet", []dt.Rec{
			createPolicy("ops", doc(stAdmin), t0), createVersion(doc(stS3Read), "v2", true, t0.Add(day))}, 0},
		{"an admin version written but not made default is quiet", []dt.Rec{
			createPolicy("ops", doc(stAdmin), t0), createVersion(doc(stAdmin), "v2", false, t0.Add(day))}, 0},
	}
}

func runReassert(t *testing.T, newStore newStoreFunc) {
	for _, c := range reassertCases() {
		t.Run(c.name, func(t *testing.T) {
			vs := dt.NewWithStore(t, newStore(t), newPolicyWeakened(t, nil, "")).Stream(c.stream...)
			fs := dt.Only(builtin.PolicyWeakenedID, vs[len(vs)-1:])
			switch {
			case c.want == 0 && len(fs) != 0:
				t.Fatalf("want no finding, got %v: %s", fs[0].Severity, fs[0].Explanation)
			case c.want == 0:
			case len(fs) != 1:
				t.Fatalf("want one %v finding, got %d", c.want, len(fs))
			case fs[0].Severity != c.want || fs[0].Evidence["reasserted"] != "true" ||
				!strings.Contains(fs[0].Explanation, "Action * on Resource *"):
				t.Errorf("got %v (reasserted %q): %s, want %v re-asserting Action * on Resource *",
					fs[0].Severity, fs[0].Evidence["reasserted"], fs[0].Explanation, c.want)
			}
		})
	}
}

func TestPolicyWeakenedReassertsAdmin(t *testing.T) { runReassert(t, memoryStore) }

func TestPolicyWeakenedReassertsAdminOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	runReassert(t, func(tb testing.TB) state.Store { return open(tb) })
}
