package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/server"
)

// storyWatchers are the Watch calls one scenario reads: two that take
// story updates only and one that takes findings and stories, on the
// replicas given, and one with the empty request (findings only).
type storyWatchers struct {
	storiesOnly []grpc.ServerStreamingClient[iamsentryv1.WatchResponse]
	both        grpc.ServerStreamingClient[iamsentryv1.WatchResponse]
	plain       grpc.ServerStreamingClient[iamsentryv1.WatchResponse]
}

// scoreAlone scores one record in its own call and returns its verdict.
func scoreAlone(t *testing.T, ctx context.Context, c iamsentryv1.DetectionServiceClient, record []byte) *iamsentryv1.Verdict {
	t.Helper()
	resp, err := c.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{jsonEvent(record)}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetVerdicts()[0]
}

// storyKey is what makes a story update news: the story, its severity,
// stages, identities and what it supersedes.
func storyKey(st *iamsentryv1.Story) string {
	return strings.Join([]string{st.GetId(), st.GetSeverity().String(), strings.Join(st.GetStages(), ","),
		strings.Join(st.GetIdentities(), ","), strings.Join(st.GetSupersedes(), ",")}, "|")
}

// runTakeoverOnWatch scores the takeover through replicas (record i on
// replicas[i%len]), redelivers every attack record through the next
// replica, then scores an unrelated admin attachment, and checks what the
// watchers saw against the stories the verdicts carried.
func runTakeoverOnWatch(t *testing.T, replicas []iamsentryv1.DetectionServiceClient) {
	// A bound, not a timing: a watcher missing an update fails the test
	// with DeadlineExceeded instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := storyWatchers{
		storiesOnly: []grpc.ServerStreamingClient[iamsentryv1.WatchResponse]{
			openWatch(t, ctx, replicas[0], &iamsentryv1.WatchRequest{Content: iamsentryv1.WatchContent_WATCH_CONTENT_STORIES}),
			openWatch(t, ctx, replicas[len(replicas)-1], &iamsentryv1.WatchRequest{Content: iamsentryv1.WatchContent_WATCH_CONTENT_STORIES}),
		},
		both:  openWatch(t, ctx, replicas[len(replicas)-1], &iamsentryv1.WatchRequest{Content: iamsentryv1.WatchContent_WATCH_CONTENT_FINDINGS_AND_STORIES}),
		plain: openWatch(t, ctx, replicas[0], &iamsentryv1.WatchRequest{}),
	}
	for i, r := range dt.TakeoverHistory() {
		if v := scoreAlone(t, ctx, replicas[i%len(replicas)], r.JSON()); len(v.GetFindings()) > 0 || len(v.GetStories()) > 0 {
			t.Fatalf("history record %d raised %v", i, v)
		}
	}
	var told []*iamsentryv1.Story // what the verdicts carried, in scoring order
	attack := dt.TakeoverAttack()
	for i, r := range attack {
		told = append(told, scoreAlone(t, ctx, replicas[i%len(replicas)], r.JSON()).GetStories()...)
	}
	checkTakeoverTold(t, told)
	for i, r := range attack {
		v := scoreAlone(t, ctx, replicas[(i+1)%len(replicas)], r.JSON())
		if v.GetOutcome() != iamsentryv1.Outcome_OUTCOME_DUPLICATE || len(v.GetStories()) > 0 {
			t.Fatalf("redelivery of attack record %d: %v with %d stories, want DUPLICATE with none", i, v.GetOutcome(), len(v.GetStories()))
		}
	}
	// Dispatch is in scoring order: had a redelivery told a story again,
	// its update would come before the sentinel's.
	sentinel := scoreAlone(t, ctx, replicas[0], attachRecord(t, "story-sentinel")).GetStories()
	if len(sentinel) != 1 {
		t.Fatalf("the unrelated admin attachment told %d stories, want 1 new story", len(sentinel))
	}
	want := append(slices.Clone(told), sentinel...)
	// One replica dispatches in scoring order. Across replicas each
	// publishes its own updates once it has scored them, so updates that
	// different replicas told can cross on the way (docs/findings.md):
	// then each must still arrive exactly once.
	ordered := len(replicas) == 1
	for i, sw := range w.storiesOnly {
		checkStoryUpdates(t, fmt.Sprintf("stories-only watcher %d", i), readStories(t, sw, len(want)), want, ordered)
	}
	checkBothInOrder(t, w.both, want, ordered)
	checkFindingsOnly(t, w.plain)
}

// checkTakeoverTold checks the stories the takeover's verdicts carried:
// one story, created and then raised to HIGH, each update news.
func checkTakeoverTold(t *testing.T, told []*iamsentryv1.Story) {
	t.Helper()
	if len(told) < 2 {
		t.Fatalf("the takeover told %d story updates, want it created and then raised: %v", len(told), told)
	}
	for i, st := range told {
		if st.GetId() != told[0].GetId() {
			t.Errorf("update %d is of story %s, want the one story %s", i, st.GetId(), told[0].GetId())
		}
		if i > 0 && storyKey(st) == storyKey(told[i-1]) {
			t.Errorf("update %d repeats update %d: a story is told once per change", i, i-1)
		}
	}
	first, last := told[0], told[len(told)-1]
	if last.GetSeverity() != iamsentryv1.Severity_SEVERITY_HIGH || len(last.GetStages()) < 3 {
		t.Errorf("final story is %v with stages %v, want HIGH over initial access, discovery and persistence", last.GetSeverity(), last.GetStages())
	}
	if first.GetSeverity() >= last.GetSeverity() {
		t.Errorf("story created at %v, last %v: want it raised", first.GetSeverity(), last.GetSeverity())
	}
	if last.GetSummary() == "" || len(last.GetIncidents()) != 3 || !last.GetFirstEventTime().AsTime().Before(last.GetLastEventTime().AsTime()) {
		t.Errorf("final story lacks its summary, three incidents or times: %v", last)
	}
}

func readStories(t *testing.T, w grpc.ServerStreamingClient[iamsentryv1.WatchResponse], n int) []*iamsentryv1.Story {
	t.Helper()
	var out []*iamsentryv1.Story
	for len(out) < n {
		resp, err := w.Recv()
		if err != nil {
			t.Fatalf("after %d story updates: %v", len(out), err)
		}
		if resp.GetFinding() != nil || resp.GetStory() == nil || resp.GetDropped() != 0 {
			t.Fatalf("a stories-only watcher got %v", resp)
		}
		out = append(out, resp.GetStory())
	}
	return out
}

// checkStoryUpdates checks that a watcher saw exactly the updates the
// verdicts told, each once, and in the same order when ordered.
func checkStoryUpdates(t *testing.T, name string, got, want []*iamsentryv1.Story, ordered bool) {
	t.Helper()
	if !ordered {
		byKey := func(a, b *iamsentryv1.Story) int {
			return strings.Compare(storyKey(a)+a.GetSummary(), storyKey(b)+b.GetSummary())
		}
		got, want = slices.Clone(got), slices.Clone(want)
		slices.SortFunc(got, byKey)
		slices.SortFunc(want, byKey)
	}
	for i := range want {
		if storyKey(got[i]) != storyKey(want[i]) || got[i].GetSummary() != want[i].GetSummary() {
			t.Errorf("%s: update %d is %s, want %s", name, i, storyKey(got[i]), storyKey(want[i]))
		}
	}
}

// checkBothInOrder reads a findings-and-stories watcher up to the last
// update of want: it sees the same updates and, when ordered (one
// replica), in the same order, each after the findings it holds.
func checkBothInOrder(t *testing.T, w grpc.ServerStreamingClient[iamsentryv1.WatchResponse], want []*iamsentryv1.Story, ordered bool) {
	t.Helper()
	seen := map[string]bool{} // incidents of findings received
	var got []*iamsentryv1.Story
	for len(got) < len(want) {
		resp, err := w.Recv()
		if err != nil {
			t.Fatalf("findings-and-stories watcher, after %d updates: %v", len(got), err)
		}
		if f := resp.GetFinding(); f != nil {
			seen[f.GetIncident()] = true
			continue
		}
		st := resp.GetStory()
		for _, inc := range st.GetIncidents() {
			// Across replicas a finding another replica raised can still
			// be on its way when this replica's story update arrives.
			if ordered && !seen[inc] {
				t.Errorf("story update %s came before its finding %s", st.GetId(), inc)
			}
		}
		got = append(got, st)
	}
	checkStoryUpdates(t, "findings-and-stories watcher", got, want, ordered)
}

// checkFindingsOnly reads an empty-request watcher up to the sentinel's
// finding: it takes findings only.
func checkFindingsOnly(t *testing.T, w grpc.ServerStreamingClient[iamsentryv1.WatchResponse]) {
	t.Helper()
	for {
		resp, err := w.Recv()
		if err != nil {
			t.Fatalf("default watcher: %v", err)
		}
		if resp.GetStory() != nil || resp.GetFinding() == nil {
			t.Fatalf("a watcher with the empty request got %v, want findings only", resp)
		}
		if resp.GetFinding().GetEventId() == "story-sentinel" {
			return
		}
	}
}

func TestWatchTellsStoryOnMemory(t *testing.T) {
	f := start(t, server.Options{})
	runTakeoverOnWatch(t, []iamsentryv1.DetectionServiceClient{f.client})
}

// TestWatchTellsStoryAcrossRedisReplicas runs the takeover over two
// replicas on one real redis-server: records alternate between them, and
// watchers on either see each update once.
func TestWatchTellsStoryAcrossRedisReplicas(t *testing.T) {
	srv := redistest.StartServer(t)
	prefix := rstore.Prefix()
	runTakeoverOnWatch(t, []iamsentryv1.DetectionServiceClient{replica(t, srv.URL(), prefix), replica(t, srv.URL(), prefix)})
}

func TestWatchRejectsUnknownContent(t *testing.T) {
	f := start(t, server.Options{})
	w, err := f.client.Watch(context.Background(), &iamsentryv1.WatchRequest{Content: 9})
	if err == nil {
		_, err = w.Recv()
	}
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "content 9") {
		t.Errorf("Watch with content 9: %v, want InvalidArgument naming it", err)
	}
}
