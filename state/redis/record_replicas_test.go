package redis_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/redis"
	"github.com/iamsentry/iamsentry/state/statetest"
)

// replicas is one Store made of several replicas sharing a server, each
// batch executed by the next: every rule of the suite then sees its
// batches spread over replicas whose record caches go stale under each
// other's writes, and the concurrency rules race replicas against each
// other, which only the record layout's version check keeps apart.
type replicas struct {
	stores []*redis.Store
	next   atomic.Int64
}

func (r *replicas) Exec(ctx context.Context, b *state.Batch) error {
	return r.stores[int(r.next.Add(1))%len(r.stores)].Exec(ctx, b)
}

func (r *replicas) Ping(ctx context.Context) error { return r.stores[0].Ping(ctx) }
func (r *replicas) Close() error                   { return nil }

// TestConformanceAcrossReplicas runs the suite on three replicas of the
// record layout taking turns, and requires that they actually conflicted:
// otherwise the test proves nothing about the version check.
func TestConformanceAcrossReplicas(t *testing.T) {
	srv := redistest.StartServer(t)
	r := &replicas{}
	for range 3 {
		r.stores = append(r.stores, newStore(t, srv.URL()+"?prefix=replicas:"))
	}
	statetest.Run(t, statetest.Harness{New: func(*testing.T) state.Store { return r }})
	var conflicts int64
	for _, s := range r.stores {
		conflicts += s.RecordStats().Conflicts
	}
	t.Logf("%d conflicts retried", conflicts)
	if conflicts == 0 {
		t.Error("no replica ever met another's newer record: the version check went unexercised")
	}
}
