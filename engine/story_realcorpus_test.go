package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/racetest"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpusrules"
	"github.com/iamsentry/iamsentry/state/memory"
)

// TestStoriesOfBenignTraffic scores two weeks of a realistic account
// (internal/realcorpus, its attacks left out) with every built-in detector
// and GeoIP on. Stories must add nothing to benign traffic: no benign
// story is more severe than its worst finding, none covers three stages,
// none is above LOW (a story of one stage is LOW whatever its findings:
// the detectors' benign findings keep their own severity on the finding).
// No benign story joins two IAM users: the developers assume one role
// under one session name, which links nobody. With the attacks left in,
// every attack finding is in a story.
func TestStoriesOfBenignTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("scores a month of traffic")
	}
	racetest.SkipLong(t)
	c := realcorpus.Generate(realcorpus.Options{Seed: 1, Days: 14})
	attack := map[string]bool{}
	for _, a := range c.Attacks {
		for _, id := range a.EventIDs {
			attack[id] = true
		}
	}
	var benign, all [][]byte
	for _, r := range c.Records {
		all = append(all, r.JSON)
		var id struct {
			EventID string `json:"eventID"`
		}
		if err := json.Unmarshal(r.JSON, &id); err != nil {
			t.Fatal(err)
		}
		if !attack[id.EventID] {
			benign = append(benign, r.JSON)
		}
	}
	run := scoreAll(t, realcorpusEngine(t), benign)
	worst := map[string]detectors.Severity{} // final story → its worst finding
	detectorsAbove := map[string]int{}
	for _, f := range run.findings {
		id := run.storyOf(f)
		worst[id] = max(worst[id], f.Severity)
	}
	bySev := map[detectors.Severity]int{}
	final := run.final()
	for id, s := range final {
		bySev[s.Severity]++
		if s.Severity > worst[id] || len(s.Stages) >= 3 || s.Severity > detectors.SeverityLow {
			t.Errorf("benign story raised above its findings (worst %s): %s", worst[id], s.Summary)
		}
		if users := strings.Count(strings.Join(s.Identities, " "), ":user/"); users > 1 {
			t.Errorf("benign story joins %d IAM users (a shared session name or role is no link): %s", users, s.Summary)
		}
	}
	for _, f := range run.findings {
		if s, ok := final[run.storyOf(f)]; ok && s.Severity > detectors.SeverityLow {
			detectorsAbove[f.DetectorID]++
		}
	}
	t.Logf("benign traffic: %d records, %d findings, %d stories (%d emissions) by severity %v; findings in stories above LOW by detector %v",
		len(benign), len(run.findings), len(final), len(run.emitted), bySev, detectorsAbove)

	run = scoreAll(t, realcorpusEngine(t), all)
	bySev = map[detectors.Severity]int{}
	for _, s := range run.final() {
		bySev[s.Severity]++
	}
	for _, f := range run.findings {
		if run.storyOf(f) == "" {
			t.Errorf("finding %s names story %q, which no final story is", f.Incident, f.Story)
		}
	}
	t.Logf("with %d attacks: %d findings, %d stories (%d emissions) by severity %v", len(c.Attacks), len(run.findings), len(run.final()), len(run.emitted), bySev)
}

func realcorpusEngine(t *testing.T) *engine.Engine {
	t.Helper()
	built := realcorpusrules.Build(t)
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	return engine.New(built.Registry, store, engine.Options{Suppress: built.Suppress})
}

// scoreAll scores raws in batches of 512 and returns the findings that are
// not suppressed and the stories emitted.
func scoreAll(t *testing.T, eng *engine.Engine, raws [][]byte) storyRun {
	t.Helper()
	var run storyRun
	for off := 0; off < len(raws); off += 512 {
		vs, err := eng.Score(context.Background(), engine.Batch{Records: raws[off:min(off+512, len(raws))]})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			for _, f := range v.Findings {
				if f.Suppressed == nil {
					run.findings = append(run.findings, f)
				}
			}
			run.emitted = append(run.emitted, v.Stories...)
		}
	}
	return run
}
