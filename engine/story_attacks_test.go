package engine_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine/story"
	"github.com/iamsentry/iamsentry/internal/racetest"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
)

// TestStoriesOfWovenAttacks scores two weeks of the realistic account with
// its attacks woven in and follows each attack's findings to their final
// stories. A story's severity measures its chain, so an attack of one
// stage (a lone admin-role spike, a foreign key) may tell a LOW story
// while its finding keeps its own severity; an attack story that covers
// two stages or more must not be LOW: that is an attacker's progress.
func TestStoriesOfWovenAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("scores two weeks of traffic")
	}
	racetest.SkipLong(t)
	c := realcorpus.Generate(realcorpus.Options{Seed: 1, Days: 14})
	raws := make([][]byte, len(c.Records))
	for i, r := range c.Records {
		raws[i] = r.JSON
	}
	run := scoreAll(t, realcorpusEngine(t), raws)
	final := run.final()
	byEvent := map[string][]detectors.Finding{}
	for _, f := range run.findings {
		byEvent[f.EventID] = append(byEvent[f.EventID], f)
	}
	for i, a := range c.Attacks {
		ids := map[string]bool{}
		worst := detectors.SeverityUnknown
		for _, ev := range a.EventIDs {
			for _, f := range byEvent[ev] {
				ids[run.storyOf(f)] = true
				worst = max(worst, f.Severity)
			}
		}
		if len(ids) == 0 {
			t.Logf("attack %d %-22s by %s raised nothing", i, a.Kind, a.Actor)
		}
		for id := range ids {
			s := final[id]
			t.Logf("attack %d %-22s by %s, worst finding %-8s story %s %-8s stages %v identities %v", i, a.Kind, a.Actor, worst, id, s.Severity, s.Stages, s.Identities)
			if len(s.Stages) >= 2 && s.Severity < detectors.SeverityMedium {
				t.Errorf("attack %d (%s): a story of %d stages is %s: %s", i, a.Kind, len(s.Stages), s.Severity, s.Summary)
			}
		}
	}
	t.Logf("stories by severity: %v", severities(final))
}

func severities(final map[string]story.Story) string {
	by := map[detectors.Severity]int{}
	for _, s := range final {
		by[s.Severity]++
	}
	var out []string
	for _, sev := range []detectors.Severity{detectors.SeverityCritical, detectors.SeverityHigh, detectors.SeverityMedium, detectors.SeverityLow} {
		out = append(out, fmt.Sprintf("%d %s", by[sev], sev))
	}
	return fmt.Sprint(slices.Clip(out))
}
