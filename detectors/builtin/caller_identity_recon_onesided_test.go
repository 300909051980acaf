package builtin_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Generated scenarios: dev's long-term key probes and lists every day from
// the office (a learned habit, no sensitive reads), then one pair has a
// call from a hosting network dev never used. The pair's verdict must not
// depend on which of its two records arrives first, nor on batching.
//
// A new network counts for the pair when the new network made both a
// probe and a discovery call of it: each call knows only its own
// network's newness, so a pair whose calls came from two networks cannot
// be judged new-network the same way by both (issue 13's order-free rule).
// The thief's lone probe from its VPS is access-key-new-location's to
// raise; the office's routine listing a minute later is no evidence of it.

type oneSidedCase struct {
	name string
	pair []dt.Rec
	want detectors.Severity // highest severity of the pair's incident; 0 for none
}

func oneSidedCases() []oneSidedCase {
	t0 := time.Date(2025, 3, 31, 20, 47, 52, 0, time.UTC)
	const office, vps = "198.51.100.10", "192.0.2.200"
	return []oneSidedCase{
		{"probe from a new VPS, listing from the office", []dt.Rec{
			devKey("sts:GetCallerIdentity", t0, vps), devKey("s3:ListBuckets", t0.Add(45*time.Second), office)}, 0},
		{"probe from the office, listing from a new VPS", []dt.Rec{
			devKey("sts:GetCallerIdentity", t0, office), devKey("s3:ListBuckets", t0.Add(45*time.Second), vps)}, 0},
		{"probe from a new VPS, sensitive listing from the office", []dt.Rec{
			devKey("sts:GetCallerIdentity", t0, vps), devKey("iam:ListUsers", t0.Add(45*time.Second), office)}, detectors.SeverityMedium},
		{"probe from the office, sensitive listing from a new VPS", []dt.Rec{
			devKey("sts:GetCallerIdentity", t0, office), devKey("iam:ListUsers", t0.Add(45*time.Second), vps)}, detectors.SeverityMedium},
		// The loud twins: the new network made both calls.
		{"probe and listing from a new VPS", []dt.Rec{
			devKey("sts:GetCallerIdentity", t0, vps), devKey("s3:ListBuckets", t0.Add(45*time.Second), vps)}, detectors.SeverityMedium},
		{"probe and sensitive listing from a new VPS", []dt.Rec{
			devKey("sts:GetCallerIdentity", t0, vps), devKey("iam:ListUsers", t0.Add(45*time.Second), vps)}, detectors.SeverityHigh},
	}
}

func TestCallerIdentityReconOneSided(t *testing.T) { runOneSided(t, memoryStore) }

func TestCallerIdentityReconOneSidedOnRedis(t *testing.T) { runOnRedis(t, runOneSided) }

func runOneSided(t *testing.T, newStore newStoreFunc) {
	t0 := time.Date(2025, 3, 31, 20, 47, 52, 0, time.UTC)
	for _, c := range oneSidedCases() {
		t.Run(c.name, func(t *testing.T) {
			fresh := func() *dt.Harness {
				d, err := builtin.NewCallerIdentityRecon(detectors.Config{Settings: &detectors.Settings{GeoIP: returnGeo}})
				if err != nil {
					t.Fatal(err)
				}
				h := dt.NewWithStore(t, newStore(t), d)
				h.Stream(sortedByTime(dailyWhoami(t0, "198.51.100.10"))...)
				return h
			}
			check := func(how string, vs []engine.Verdict) {
				t.Helper()
				var top detectors.Severity
				for _, f := range dt.Only(builtin.CallerIdentityReconID, vs) {
					top = max(top, f.Severity)
				}
				if top != c.want {
					t.Errorf("%s: rule: a pair's verdict does not depend on which call arrives first; got %v, want %v", how, top, c.want)
				}
			}
			check("probe first", fresh().Stream(c.pair...))
			check("probe second", fresh().Stream(reversed(c.pair)...))
			check("one batch", fresh().Score(c.pair...))
			check("one batch, reversed", fresh().Score(reversed(c.pair)...))
			for seed := range uint64(4) {
				check(fmt.Sprintf("shuffled seed %d", seed), scoreInBatches(fresh(), deliver(c.pair, detectors.AllowedLateness, seed), seed))
			}
		})
	}
}
