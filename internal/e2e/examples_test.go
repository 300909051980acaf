package e2e_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// The README's first finding, as a newcomer runs it from a clone: after
// `make build` (TestMain ran it), `bin/iamsentry scan examples/` prints
// findings from the bundled samples, and with `make run` serving,
// `bin/iamsentry replay examples/` prints the same ones. The docs quote
// these commands; this test keeps them true.
func TestFirstFindingOnExamples(t *testing.T) {
	skipShort(t)
	scanned, summary := findingsOf(t, "bin/iamsentry scan examples/")
	for _, want := range []string{
		// The counts examples/README.md gives: update it when this changes.
		"scanned 24 records from 5 inputs: 7 clean, 17 findings, 0 suppressed, 0 duplicates, 1 invalid",
		"skipped: 2 files not named as records", "examples/README.md",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("scan's summary lacks %q:\n%s", want, summary)
		}
	}
	checkSampleFindings(t, "scan", scanned)

	_, addr := startMakeRun(t)
	// The README's command uses the default address, localhost:50051; the
	// test serves on a free port instead, so it names it.
	replayed, summary := findingsOf(t, "bin/iamsentry replay --addr "+addr+" examples/")
	if !strings.Contains(summary, " 0 unanswered") || !strings.Contains(summary, "skipped: 2 files") {
		t.Errorf("replay's summary:\n%s", summary)
	}
	checkSampleFindings(t, "replay", replayed)
	if !slices.Equal(replayed, scanned) {
		t.Errorf("replay through the server found\n%s\nscan in-process found\n%s", strings.Join(replayed, "\n"), strings.Join(scanned, "\n"))
	}
}

// findingsOf runs a command that prints findings as JSON lines and returns
// them as sorted "detector severity event-id" lines, with its stderr.
func findingsOf(t *testing.T, script string) (findings []string, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	if err := shell(t, script, &out, &errs); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, errs.String())
	}
	for line := range strings.Lines(out.String()) {
		var f struct {
			DetectorID string `json:"detector_id"`
			Severity   string `json:"severity"`
			EventID    string `json:"event_id"`
		}
		if err := json.Unmarshal([]byte(line), &f); err != nil || f.DetectorID == "" {
			t.Fatalf("%s: stdout line %q is not a finding (%v)", script, line, err)
		}
		findings = append(findings, f.DetectorID+" "+f.Severity+" "+f.EventID)
	}
	slices.Sort(findings)
	return findings, errs.String()
}

// checkSampleFindings holds the samples to what examples/README.md says
// they show: a CRITICAL, HIGH ones, and the two detectors it names.
func checkSampleFindings(t *testing.T, cmd string, findings []string) {
	t.Helper()
	all := strings.Join(findings, "\n")
	for _, want := range []string{
		"access-key-persistence CRITICAL 1111",
		"access-key-persistence HIGH d3906a7d-604b-407f-acb6-fc425742821e",
		"admin-policy-attached HIGH",
		"policy-weakened MEDIUM",
		"admin-policy-attached CRITICAL",
		"root-account-use HIGH",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("%s examples/ found no %q; it found:\n%s", cmd, want, all)
		}
	}
	if len(findings) != 17 {
		t.Errorf("%s examples/ found %d findings, examples/README.md says 17:\n%s", cmd, len(findings), all)
	}
}
