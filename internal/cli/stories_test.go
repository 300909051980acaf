package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/internal/cli"
)

// jsonLines splits output into objects, failing on a line that is not one.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", line, err)
		}
		objs = append(objs, m)
	}
	return objs
}

func TestScanStories(t *testing.T) {
	path := writeFile(t, "trail.json", `{"Records":[`+createRole+`,`+attachRole+`]}`)
	code, out, errs := runCLI(t, "", "scan", "--stories", path)
	if code != cli.ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, errs)
	}
	lines := jsonLines(t, out)
	if len(lines) != 2 {
		t.Fatalf("want a finding then its story, got %d lines:\n%s", len(lines), out)
	}
	f, st := lines[0], lines[1]
	if f["detector_id"] != "admin-policy-attached" || f["story"] == nil || f["story"] != st["story"] {
		t.Errorf("finding %v must name the story %v", f["story"], st["story"])
	}
	for _, k := range []string{"story", "severity", "stages", "identities", "incidents", "first_event_time", "last_event_time", "summary"} {
		if _, ok := st[k]; !ok {
			t.Errorf("story line lacks %q: %v", k, st)
		}
	}
	// One stage: the story is LOW, the finding keeps its CRITICAL (see
	// docs/findings.md, Attack stories).
	if st["severity"] != "LOW" || f["severity"] != "CRITICAL" || !strings.Contains(st["summary"].(string), "user/alice") {
		t.Errorf("story %v of finding %v, want a LOW story naming alice of a CRITICAL finding", st, f["severity"])
	}

	code, out, _ = runCLI(t, "", "scan", path)
	if code != cli.ExitOK || len(jsonLines(t, out)) != 1 {
		t.Errorf("without --stories only the finding is printed:\n%s", out)
	}

	file := filepath.Join(t.TempDir(), "stories.jsonl")
	code, out, _ = runCLI(t, "", "scan", "--stories-out", file, path)
	if code != cli.ExitOK || len(jsonLines(t, out)) != 1 {
		t.Errorf("with --stories-out standard output holds only the finding:\n%s", out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if ls := jsonLines(t, string(b)); len(ls) != 1 || ls[0]["story"] != st["story"] {
		t.Errorf("stories file %q, want the one story", b)
	}

	code, _, errs = runCLI(t, "", "scan", "--stories-out", filepath.Join(t.TempDir(), "no", "such", "dir"), path)
	if code != cli.ExitError || !strings.Contains(errs, "stories:") {
		t.Errorf("an unwritable stories file: exit %d, stderr %q", code, errs)
	}
}

func TestScanStoriesText(t *testing.T) {
	path := writeFile(t, "trail.json", `{"Records":[`+createRole+`,`+attachRole+`]}`)
	code, out, errs := runCLI(t, "", "scan", "--stories", "--format", "text", path)
	if code != cli.ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, errs)
	}
	if !strings.Contains(out, "STORY story-") || !strings.Contains(out, "privilege-escalation") {
		t.Errorf("text output lacks the story:\n%s", out)
	}
}
