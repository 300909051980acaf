package builtin_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpustest"
	"github.com/iamsentry/iamsentry/state/memory"
)

// TestKillChainDetectorsRealCorpus scores the realistic month
// (internal/realcorpus, seed 1: 145 identities, SSO console sign-ins,
// automation, no root use) with the recommended configuration and no GeoIP,
// with root-account-use, console-login-without-mfa, mfa-device-removed and
// password-policy-weakened next to admin-policy-attached and
// access-key-new-location, whose marks they read: benign traffic must
// raise nothing of theirs above LOW, and each woven-in sign-in of an IAM
// user without MFA raises its MEDIUM.
func TestKillChainDetectorsRealCorpus(t *testing.T) {
	if testing.Short() || os.Getenv("IAMSENTRY_CORPUS_TESTS") == "" {
		t.Skip("scores the realistic month (a minute, several under -race): make noise runs it (IAMSENTRY_CORPUS_TESTS=1)")
	}
	c := realcorpus.Generate(realcorpus.Options{Seed: 1})
	cfg := realcorpustest.Config(t)
	parsed, err := config.Parse([]byte(cfg[:strings.Index(cfg, "geoip:")]))
	if err != nil {
		t.Fatal(err)
	}
	mine := map[string]bool{builtin.RootAccountUseID: true, builtin.ConsoleLoginWithoutMFAID: true,
		builtin.MFADeviceRemovedID: true, builtin.PasswordPolicyWeakenedID: true}
	var specs []detectors.Spec
	for _, s := range builtin.Specs() {
		if mine[s.ID] || s.ID == builtin.AdminPolicyAttachedID || s.ID == builtin.AccessKeyNewLocationID {
			specs = append(specs, s)
		}
	}
	built, err := parsed.Build(specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	attack, noMFA := map[string]bool{}, 0
	for _, a := range c.Attacks {
		for _, id := range a.EventIDs {
			attack[id] = true
		}
		if a.Kind == "console-login-no-mfa" {
			noMFA++
		}
	}
	store := memory.New()
	defer store.Close()
	eng := engine.New(built.Registry, store, engine.Options{Suppress: built.Suppress})
	counts := map[string]int{}
	const batch = 512
	for off := 0; off < len(c.Records); off += batch {
		raws := make([][]byte, 0, batch)
		for _, r := range c.Records[off:min(off+batch, len(c.Records))] {
			raws = append(raws, r.JSON)
		}
		vs, err := eng.Score(context.Background(), engine.Batch{Records: raws})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			for _, f := range v.Findings {
				if mine[f.DetectorID] {
					side := "benign"
					if attack[f.EventID] {
						side = "attack"
					}
					counts[side+" "+f.DetectorID+" "+f.Severity.String()]++
					if side == "benign" && f.Severity > detectors.SeverityLow {
						t.Errorf("benign %s %s: %s", f.DetectorID, f.Severity, f.Explanation)
					}
				}
			}
		}
	}
	t.Logf("%d records: %v", len(c.Records), counts)
	if got := counts["attack "+builtin.ConsoleLoginWithoutMFAID+" MEDIUM"]; got != noMFA {
		t.Errorf("%d console-login-no-mfa attacks woven in, %d MEDIUM findings on them", noMFA, got)
	}
}
