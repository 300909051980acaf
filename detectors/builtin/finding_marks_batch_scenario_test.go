package builtin_test

import (
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// A Roles Anywhere profile privileged only by PrivilegedRoleMark (its role
// was granted AdministratorAccess) leaves its pairing mark through its
// finding; a trust anchor scored after it in the same micro-batch must
// pair with it as it does in a batch of its own: one HIGH, on the anchor.
// The quiet twin: the same pair for a role nobody made admin.
func runFindingMarkPairInOneBatch(t *testing.T, newStore newStoreFunc) {
	attachAdmin := dt.IAM("AttachRolePolicy", t0.Add(-time.Hour), map[string]any{"roleName": "app", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})
	for _, c := range []struct {
		name  string
		setup []dt.Rec
		high  int
	}{
		{"role made admin", []dt.Rec{attachAdmin}, 1},
		{"quiet: an ordinary role", nil, 0},
	} {
		for _, oneBatch := range []bool{false, true} {
			spike := dt.Must(builtin.NewPrivilegedRoleAssumptionSpike(det3Config(orgSettings, "")))
			h := dt.NewWithStore(t, newStore(t), spike, newCP(t, orgSettings, ""))
			h.Stream(c.setup...)
			profile, anchor := cpProfile(t0, appRoleARN), cpAnchor(t0.Add(30*time.Minute))
			var fs []detectors.Finding
			if oneBatch {
				fs = dt.Only(builtin.CredentialPersistenceID, h.Score(profile, anchor))
			} else {
				fs = dt.Only(builtin.CredentialPersistenceID, h.Stream(profile, anchor))
			}
			high := 0
			for _, f := range fs {
				if f.Severity >= detectors.SeverityHigh {
					high++
					if f.EventName != "CreateTrustAnchor" {
						t.Errorf("%s, one batch %v: HIGH on %s, want it on the anchor, the later half", c.name, oneBatch, f.EventName)
					}
				}
			}
			if high != c.high {
				t.Errorf("%s, one batch %v: %d HIGH findings, want %d", c.name, oneBatch, high, c.high)
			}
		}
	}
}

func TestFindingMarkPairInOneBatch(t *testing.T) { runFindingMarkPairInOneBatch(t, memoryStore) }

func TestFindingMarkPairInOneBatchOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	runFindingMarkPairInOneBatch(t, func(tb testing.TB) state.Store { return open(tb) })
}
