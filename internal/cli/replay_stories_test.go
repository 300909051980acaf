package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/internal/cli"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// takeoverFile writes the textbook takeover (history, then attack) as JSON
// lines.
func takeoverFile(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	for _, r := range append(dt.TakeoverHistory(), dt.TakeoverAttack()...) {
		b.Write(r.JSON())
		b.WriteByte('\n')
	}
	return writeFile(t, "takeover.jsonl", b.String())
}

// splitLines separates finding lines from story lines.
func splitLines(t *testing.T, out string) (findings, stories []map[string]any) {
	t.Helper()
	for _, l := range jsonLines(t, out) {
		if _, ok := l["detector_id"]; ok {
			findings = append(findings, l)
		} else {
			stories = append(stories, l)
		}
	}
	return findings, stories
}

// storyLineKeys are the keys of scan --stories' lines (supersedes is left
// out when empty).
var storyLineKeys = []string{"first_event_time", "identities", "incidents", "last_event_time", "severity", "stages", "story", "summary"}

func TestReplayStories(t *testing.T) {
	addr := startServer(t)
	path := takeoverFile(t)
	oneByOne := []string{"replay", "--addr", addr, "--progress", "off", "--batch", "1", "--window", "1", "--streams", "1"}
	code, out, errs := runCLI(t, "", append(slices.Clone(oneByOne), "--stories", path)...)
	if code != cli.ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, errs)
	}
	findings, stories := splitLines(t, out)
	if len(findings) != 3 || len(stories) < 2 {
		t.Fatalf("want the attack's 3 findings and its story created then raised, got %d findings, %d stories:\n%s", len(findings), len(stories), out)
	}
	id := stories[0]["story"]
	for i, st := range stories {
		keys := make([]string, 0, len(st))
		for k := range st {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, storyLineKeys) {
			t.Errorf("story line %d has keys %v, want scan's %v", i, keys, storyLineKeys)
		}
		if st["story"] != id {
			t.Errorf("story line %d is of %v, want the one story %v", i, st["story"], id)
		}
	}
	last := stories[len(stories)-1]
	for _, f := range findings {
		if !slices.Contains(last["incidents"].([]any), f["incident"]) {
			t.Errorf("finding %v (incident %v) is not in the story's incidents %v", f["detector_id"], f["incident"], last["incidents"])
		}
	}
	if first := stories[0]; first["severity"] == "HIGH" || last["severity"] != "HIGH" ||
		len(last["stages"].([]any)) < 3 || !strings.Contains(last["summary"].(string), "alice") {
		t.Errorf("story created %v, last %v: want it raised to HIGH over three stages, naming alice", first["severity"], last)
	}

	// A rerun finds every record scored before: the findings come back with
	// the duplicates, the story updates were told once.
	code, out, errs = runCLI(t, "", append(slices.Clone(oneByOne), "--stories", path)...)
	if f, s := splitLines(t, out); code != cli.ExitOK || len(f) != 3 || len(s) != 0 {
		t.Errorf("rerun: exit %d, %d findings, %d story lines; want the findings again and no story told twice:\n%s%s", code, len(f), len(s), out, errs)
	}
}

func TestReplayStoriesOut(t *testing.T) {
	addr := startServer(t)
	path := takeoverFile(t)
	file := filepath.Join(t.TempDir(), "stories.jsonl")
	code, out, errs := runCLI(t, "", "replay", "--addr", addr, "--progress", "off", "--batch", "1", "--window", "1", "--stories-out", file, path)
	if code != cli.ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, errs)
	}
	if f, s := splitLines(t, out); len(f) != 3 || len(s) != 0 {
		t.Errorf("with --stories-out standard output holds the findings only:\n%s", out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if f, s := splitLines(t, string(b)); len(f) != 0 || len(s) < 2 {
		t.Errorf("stories file holds %d findings, %d stories; want the story's updates only:\n%s", len(f), len(s), b)
	}

	code, out, _ = runCLI(t, "", "replay", "--addr", startServer(t), "--progress", "off", path)
	if f, s := splitLines(t, out); code != cli.ExitOK || len(f) != 3 || len(s) != 0 {
		t.Errorf("without --stories only findings are printed:\n%s", out)
	}

	code, _, errs = runCLI(t, "", "replay", "--addr", addr, "--stories-out", filepath.Join(t.TempDir(), "no", "such", "dir"), path)
	if code != cli.ExitError || !strings.Contains(errs, "stories:") {
		t.Errorf("an unwritable stories file: exit %d, stderr %q", code, errs)
	}
}
