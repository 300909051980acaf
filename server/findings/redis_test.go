package findings_test

import (
	"context"
	"testing"
	"time"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	goredis "github.com/redis/go-redis/v9"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/server/findings"
)

// TestRedisBusFansOutAcrossReplicas runs two replicas' buses on one real
// redis-server: what either publishes reaches both hubs, by tenant, and a
// deployment with another key prefix sees none of it.
func TestRedisBusFansOutAcrossReplicas(t *testing.T) {
	srv := redistest.StartServer(t)
	checkFanOut(t, func() goredis.UniversalClient { return srv.Client() })
}

// TestRedisBusFansOutOnCluster is the same on a real 3-master Redis
// Cluster: replicas connected to different nodes still see each other's
// findings (cluster pub/sub reaches every node).
func TestRedisBusFansOutOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	c := redistest.StartCluster(t, 3)
	checkFanOut(t, func() goredis.UniversalClient { return c.Client() })
}

func checkFanOut(t *testing.T, newClient func() goredis.UniversalClient) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type replica struct {
		bus *findings.RedisBus
		hub *findings.Hub
	}
	start := func(prefix string) replica {
		r := replica{findings.NewRedisBus(newClient(), prefix, nil), findings.NewHub()}
		go r.bus.Run(ctx, r.hub)
		select {
		case <-r.bus.Ready():
		case <-time.After(10 * time.Second):
			t.Fatal("subscription not confirmed")
		}
		return r
	}
	a, b, other := start("iamsentry:"), start("iamsentry:"), start("staging:")
	subA := a.hub.Subscribe("", findings.Filter{}, 8)
	subB := b.hub.Subscribe("", findings.Filter{}, 8)
	subT := b.hub.Subscribe("tenant*x", findings.Filter{}, 8)
	subO := other.hub.Subscribe("", findings.Filter{}, 8)
	if err := a.bus.Publish(ctx, "", []*iamsentryv1.Finding{finding("1", iamsentryv1.Severity_SEVERITY_HIGH)}); err != nil {
		t.Fatal(err)
	}
	if err := b.bus.Publish(ctx, "tenant*x", []*iamsentryv1.Finding{finding("2", iamsentryv1.Severity_SEVERITY_HIGH)}); err != nil {
		t.Fatal(err)
	}
	for name, sub := range map[string]*findings.Subscription{"publishing replica": subA, "other replica": subB} {
		select {
		case f := <-sub.C():
			if f.GetEventId() != "1" || f.GetExplanation() == "" {
				t.Errorf("%s got %v", name, f)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not receive the finding", name)
		}
	}
	select {
	case f := <-subT.C():
		if f.GetEventId() != "2" {
			t.Errorf("tenant watcher got %v", f)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tenant watcher did not receive its finding")
	}
	// Both publishes have arrived on b; a's default-tenant watcher must not
	// have seen the other tenant's finding, nor the other deployment any.
	if len(subA.C()) != 0 || len(subB.C()) != 0 || len(subO.C()) != 0 {
		t.Errorf("findings leaked across tenants or prefixes: %d %d %d", len(subA.C()), len(subB.C()), len(subO.C()))
	}
}
