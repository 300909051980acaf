package findings_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine/story"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server/findings"
)

func testStory(id string, sev detectors.Severity) story.Story {
	at := time.Date(2025, 3, 11, 14, 0, 0, 0, time.UTC)
	return story.Story{ID: id, Severity: sev, Stages: []story.Stage{story.StageInitialAccess}, Identities: []string{"arn:aws:iam::111122223333:user/alice"},
		Incidents: []string{"i1"}, FirstEventTime: at, LastEventTime: at, Summary: "alice from 198.18.7.7"}
}

// TestStoriesReachSinks dispatches stories to a json sink, an OCSF sink,
// a severity-filtered sink and a detector-filtered sink.
func TestStoriesReachSinks(t *testing.T) {
	var all, ocsf, high, narrowed bytes.Buffer
	d := findings.NewDispatcher(findings.DispatcherConfig{Sinks: []findings.Sink{
		findings.NewWriterSink(&all, findings.WriterConfig{}),
		findings.NewWriterSink(&ocsf, findings.WriterConfig{Format: findings.OCSF}),
		findings.NewWriterSink(&high, findings.WriterConfig{Filter: findings.Filter{MinSeverity: iamsentryv1.Severity_SEVERITY_HIGH}}),
		findings.NewWriterSink(&narrowed, findings.WriterConfig{Filter: findings.Filter{Detectors: []string{"access-key-new-location"}}}),
	}})
	go d.Run(context.Background())
	d.Stories("acme", []story.Story{testStory("story-a", detectors.SeverityHigh), testStory("story-b", detectors.SeverityLow)})
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(all.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 || lines[0]["kind"] != "story" || lines[0]["tenant"] != "acme" {
		t.Fatalf("json sink wrote %v, want two story lines of acme", lines)
	}
	st, _ := lines[0]["story"].(map[string]any)
	if st["story"] != "story-a" || st["severity"] != "HIGH" || st["summary"] == "" {
		t.Errorf("story line %v", st)
	}
	if got := strings.Count(high.String(), `"kind":"story"`); got != 1 || !strings.Contains(high.String(), "story-a") {
		t.Errorf("a HIGH sink got %q, want story-a only", high.String())
	}
	if narrowed.Len() != 0 {
		t.Errorf("a detector-narrowed sink must get no story: %q", narrowed.String())
	}
	var doc struct {
		ClassUID    int    `json:"class_uid"`
		SeverityID  int    `json:"severity_id"`
		Message     string `json:"message"`
		FindingInfo struct {
			UID     string `json:"uid"`
			Related []struct {
				UID string `json:"uid"`
			} `json:"related_events"`
			First int64 `json:"first_seen_time"`
		} `json:"finding_info"`
		Actor struct {
			User struct {
				UID string `json:"uid"`
			} `json:"user"`
		} `json:"actor"`
		Metadata struct {
			CorrelationUID string `json:"correlation_uid"`
		} `json:"metadata"`
	}
	first, _, _ := strings.Cut(ocsf.String(), "\n")
	if err := json.Unmarshal([]byte(first), &doc); err != nil {
		t.Fatalf("OCSF story %q: %v", first, err)
	}
	if doc.ClassUID != 2004 || doc.SeverityID != 4 || doc.FindingInfo.UID != "story-a" || doc.Metadata.CorrelationUID != "story-a" ||
		len(doc.FindingInfo.Related) != 1 || doc.FindingInfo.Related[0].UID != "i1" || doc.FindingInfo.First == 0 ||
		doc.Actor.User.UID != "arn:aws:iam::111122223333:user/alice" || doc.Message == "" {
		t.Errorf("OCSF story %+v: want a HIGH Detection Finding of story-a relating its finding i1, acted by alice", doc)
	}
}
