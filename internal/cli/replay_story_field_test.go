package cli_test

import (
	"fmt"
	"testing"

	"github.com/iamsentry/iamsentry/internal/cli"
)

// TestReplayFindingsNameTheirStory: replay's finding lines carry the story
// each finding belongs to, as scan's do: the same keys, the same story,
// finding by finding, for the same records.
func TestReplayFindingsNameTheirStory(t *testing.T) {
	path := takeoverFile(t)
	code, scanOut, errs := runCLI(t, "", "scan", path)
	if code != cli.ExitOK {
		t.Fatalf("scan: exit %d; stderr:\n%s", code, errs)
	}
	code, replayOut, errs := runCLI(t, "", "replay", "--addr", startServer(t), "--progress", "off", "--batch", "1", "--window", "1", "--streams", "1", path)
	if code != cli.ExitOK {
		t.Fatalf("replay: exit %d; stderr:\n%s", code, errs)
	}
	byFinding := func(out string) map[string]any {
		fs, _ := splitLines(t, out)
		m := map[string]any{}
		for _, f := range fs {
			m[fmt.Sprint(f["detector_id"], " ", f["event_id"])] = f["story"]
		}
		return m
	}
	want, got := byFinding(scanOut), byFinding(replayOut)
	if len(want) == 0 {
		t.Fatalf("scan raised no findings:\n%s", scanOut)
	}
	for k, story := range want {
		if story == nil || story == "" {
			t.Errorf("scan's finding %s names no story", k)
		}
		if got[k] != story {
			t.Errorf("rule: replay's finding lines name the story scan's do: %s: replay %v, scan %v", k, got[k], story)
		}
	}
	if len(got) != len(want) {
		t.Errorf("replay printed %d findings, scan %d", len(got), len(want))
	}
}
