package story_test

import (
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine/story"
)

// TestSeverityMeasuresTheChain pins the story severity rule: a story of
// one stage is LOW whatever its findings (the finding keeps its own
// severity); two stages rise by what they are; three are HIGH; a HIGH
// persistence or escalation at or after a MEDIUM way in is CRITICAL.
// Every case is built in both orders of arrival.
func TestSeverityMeasuresTheChain(t *testing.T) {
	evade, execute := story.StageDefenseEvasion, story.StageExecution
	info := detectors.SeverityInfo
	checkSeverities(t, []severityCase{
		// One stage, the benign month's stories: a scanner's or Terraform's
		// first-days enumeration, an Identity Center admin assignment.
		{"one HIGH enumeration stage is LOW", []story.Entry{entry("enum", high, recon, 0), entry("enum2", high, recon, time.Hour)}, low},
		{"one CRITICAL admin grant is LOW", []story.Entry{entry("adm", critical, escalate, 0)}, low},
		{"one MEDIUM new location is LOW", []story.Entry{entry("loc", medium, access, 0)}, low},
		{"INFO alone stays INFO", []story.Entry{entry("i", info, recon, 0)}, info},

		// Two stages with a LOW-only stage: context.
		{"whoami LOW then an admin assignment HIGH is LOW", []story.Entry{entry("who", low, recon, 0), entry("adm", high, escalate, time.Hour)}, low},
		{"tool user agent LOW with enumeration LOW is LOW", []story.Entry{entry("ua", low, execute, 0), entry("enum", low, recon, time.Minute)}, low},
		{"a LOW stage before a MEDIUM way in, from elsewhere, is LOW", []story.Entry{from(entry("key", low, persist, 0), "203.0.113.10"),
			entry("loc", medium, access, time.Minute)}, low},

		// Two stages, each significant.
		{"recon MEDIUM and escalation HIGH are MEDIUM", []story.Entry{entry("recon", medium, recon, 0), entry("adm", high, escalate, time.Minute)}, medium},
		{"persistence HIGH and escalation CRITICAL without a way in are MEDIUM", []story.Entry{entry("role", high, persist, 0),
			entry("adm", critical, escalate, 3*time.Minute)}, medium},

		// A MEDIUM way in, then a step.
		{"new location then a LOW whoami is MEDIUM", []story.Entry{entry("loc", medium, access, 0), entry("who", low, recon, time.Minute)}, medium},
		{"new location then a LOW tool user agent is MEDIUM", []story.Entry{entry("loc", medium, access, 0), entry("ua", low, execute, time.Minute)}, medium},
		{"new location then an enumeration burst HIGH is HIGH", []story.Entry{entry("loc", medium, access, 0), entry("enum", high, recon, time.Minute)}, high},
		{"credentials off their workload then logging tampering HIGH is HIGH", []story.Entry{entry("x", medium, creds, 0),
			entry("stop", high, evade, 2*time.Minute)}, high},
		{"logging tampering CRITICAL after a new location is HIGH, not CRITICAL", []story.Entry{entry("loc", high, access, 0),
			entry("stop", critical, evade, 2*time.Minute)}, high},
		{"a HIGH step of the same stage as the way in adds nothing", []story.Entry{entry("loc", medium, access, 0),
			entry("loc2", high, access, time.Minute), entry("who", low, recon, 2*time.Minute)}, medium},

		// Three stages and CRITICAL.
		{"three LOW stages are HIGH", []story.Entry{entry("ua", low, execute, 0), entry("who", low, recon, time.Minute),
			entry("key", low, persist, 2*time.Minute)}, high},
		{"three stages with a CRITICAL finding but no way in are HIGH", []story.Entry{entry("who", low, recon, 0),
			entry("role", high, persist, time.Minute), entry("adm", critical, escalate, 2*time.Minute)}, high},
		// Delivered late: the new location was raised on a record later in
		// event time than the attacker's first steps from the new place.
		{"escalation from the new place before its new-location finding is CRITICAL", []story.Entry{entry("adm", critical, escalate, 0),
			entry("loc", medium, access, time.Minute)}, critical},
		{"a LOW step from the new place before its new-location finding is MEDIUM", []story.Entry{entry("key", low, persist, 0),
			entry("loc", medium, access, time.Minute)}, medium},
		{"admin grant at the same second as the new location is CRITICAL", []story.Entry{entry("loc", medium, access, 0),
			entry("adm", critical, escalate, 0)}, critical},
	})
}

// severityCase is a story's entries and the severity it must have.
type severityCase struct {
	name    string
	entries []story.Entry
	want    detectors.Severity
}

// checkSeverities builds each case's story from its entries in the order
// given and reversed: arrival order never changes a story's severity.
func checkSeverities(t *testing.T, cases []severityCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, order := range [][]story.Entry{c.entries, reversed(c.entries)} {
				s, ok := story.Build(order)
				if !ok || s.Severity != c.want {
					t.Errorf("severity %s, want %s (stages %v)", s.Severity, c.want, s.Stages)
				}
			}
		})
	}
}

// from returns e as made from address ip.
func from(e story.Entry, ip string) story.Entry {
	e.SourceIP = ip
	return e
}

// TestOffensiveToolingIsAStage: the offensive-tooling detector's finding
// (T1588.002 obtain tools, T1059 interpreter) is a stage of a story, as
// its documentation promises: execution.
func TestOffensiveToolingIsAStage(t *testing.T) {
	if got := story.StageOf([]string{"T1588.002", "T1059"}); got != story.StageExecution {
		t.Errorf("StageOf(offensive tooling) = %q, want %q", got, story.StageExecution)
	}
}
