package findings_test

import (
	"context"
	"testing"
	"time"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/server/findings"
)

func storyUpdate(id string, sev iamsentryv1.Severity) *iamsentryv1.Story {
	return &iamsentryv1.Story{Id: id, Severity: sev, Stages: []string{"initial-access", "discovery"}, Summary: "alice's key from a new network"}
}

// TestHubStoryFilters checks who takes a story update: only subscriptions
// that asked for stories, of the tenant, at or above their minimum
// severity; and a stories-only subscription takes no findings.
func TestHubStoryFilters(t *testing.T) {
	hub := findings.NewHub()
	plain := hub.Subscribe("acme", findings.Filter{}, 4)
	both := hub.Subscribe("acme", findings.Filter{Stories: true}, 4)
	only := hub.Subscribe("acme", findings.Filter{Stories: true, NoFindings: true}, 4)
	high := hub.Subscribe("acme", findings.Filter{Stories: true, MinSeverity: iamsentryv1.Severity_SEVERITY_HIGH}, 4)
	detectors := hub.Subscribe("acme", findings.Filter{Stories: true, Detectors: []string{"admin-policy-attached"}}, 4)
	other := hub.Subscribe("globex", findings.Filter{Stories: true}, 4)

	hub.Deliver("acme", finding("1", iamsentryv1.Severity_SEVERITY_MEDIUM))
	hub.DeliverStory("acme", storyUpdate("story-a", iamsentryv1.Severity_SEVERITY_MEDIUM))
	hub.DeliverStory("acme", storyUpdate("story-a", iamsentryv1.Severity_SEVERITY_HIGH))

	tests := []struct {
		name              string
		sub               *findings.Subscription
		findings, stories int
	}{
		{"findings only (the zero filter)", plain, 1, 0},
		{"findings and stories", both, 1, 2},
		{"stories only", only, 0, 2},
		{"stories of HIGH or more", high, 0, 1},
		{"detector ids do not narrow stories", detectors, 0, 2},
		{"another tenant", other, 0, 0},
	}
	for _, tt := range tests {
		if got := len(tt.sub.C()); got != tt.findings {
			t.Errorf("%s: %d findings, want %d", tt.name, got, tt.findings)
		}
		if got := len(tt.sub.Stories()); got != tt.stories {
			t.Errorf("%s: %d story updates, want %d", tt.name, got, tt.stories)
		}
	}
	if st := <-high.Stories(); st.GetSeverity() != iamsentryv1.Severity_SEVERITY_HIGH {
		t.Errorf("min HIGH watcher got %v", st)
	}
}

// TestHubStoryDropsOldest: a watcher that falls behind loses its oldest
// story updates and is told how many.
func TestHubStoryDropsOldest(t *testing.T) {
	hub := findings.NewHub()
	sub := hub.Subscribe("", findings.Filter{Stories: true}, 2)
	for _, id := range []string{"s1", "s2", "s3"} {
		hub.DeliverStory("", storyUpdate(id, iamsentryv1.Severity_SEVERITY_LOW))
	}
	if n := sub.Dropped(); n != 1 {
		t.Errorf("dropped %d, want 1", n)
	}
	if st := <-sub.Stories(); st.GetId() != "s2" {
		t.Errorf("oldest kept is %s, want s2", st.GetId())
	}
}

// TestRedisBusCarriesStories: story updates published by one replica reach
// the watchers of another through a real redis-server, after the findings
// published before them, and not another tenant's.
func TestRedisBusCarriesStories(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, b := findings.NewRedisBus(srv.Client(), "iamsentry:", nil), findings.NewRedisBus(srv.Client(), "iamsentry:", nil)
	hubB := findings.NewHub()
	go a.Run(ctx, findings.NewHub())
	go b.Run(ctx, hubB)
	for _, bus := range []*findings.RedisBus{a, b} {
		select {
		case <-bus.Ready():
		case <-ctx.Done():
			t.Fatal("subscription not confirmed")
		}
	}
	sub := hubB.Subscribe("acme", findings.Filter{Stories: true}, 8)
	other := hubB.Subscribe("globex", findings.Filter{Stories: true}, 8)
	if err := a.Publish(ctx, "acme", []*iamsentryv1.Finding{finding("1", iamsentryv1.Severity_SEVERITY_MEDIUM)}); err != nil {
		t.Fatal(err)
	}
	if err := a.PublishStories(ctx, "acme", []*iamsentryv1.Story{storyUpdate("story-a", iamsentryv1.Severity_SEVERITY_HIGH)}); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-sub.Stories():
		if st.GetId() != "story-a" || st.GetSummary() == "" || len(st.GetStages()) != 2 {
			t.Errorf("story update arrived as %v", st)
		}
	case <-ctx.Done():
		t.Fatal("story update did not arrive")
	}
	// The finding was published (and processed by Redis) first, so it has
	// arrived by now.
	if len(sub.C()) != 1 {
		t.Errorf("the finding published before the story update is not there: %d findings", len(sub.C()))
	}
	if len(other.Stories()) != 0 {
		t.Error("a story update leaked to another tenant")
	}
}
