package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
)

// TestMissIsOneRoundTrip: a record missing from the replica's cache is not
// read before it is written. A one-event batch on an identity nobody wrote
// costs one round trip; on one another replica wrote (missing here, there
// in Redis) the write expecting no record is refused with its bytes and
// the batch answers from them in a second round trip, without waiting as
// for a race and without counting a conflict; answers are those of one
// replica throughout.
func TestMissIsOneRoundTrip(t *testing.T) {
	srv := redistest.StartServer(t)
	a := newStore(t, srv.URL()+"?prefix=miss:")
	b := newStore(t, srv.URL()+"?prefix=miss:")
	var ha, hb pipelineCounter
	a.Client().AddHook(&ha)
	b.Client().AddHook(&hb)
	trips := func(h *pipelineCounter) int64 { return h.pipelines.Load() + h.commands.Load() }
	key := state.Key{Tenant: "acme", Identity: "AKIAMISS", Name: "novel:country"}
	add := func(s state.Store, country string, i int) state.Novelty {
		var bt state.Batch
		f := bt.NoveltyAdd(key, country, base.Add(time.Duration(i)*time.Minute), 24*time.Hour)
		exec(t, s, &bt)
		v, err := f.Get()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := trips(&ha)
	if got := add(a, "DE", 0); !got.New || got.Size != 0 {
		t.Errorf("first country on replica a: %+v, want new to a set of 0", got)
	}
	if n := trips(&ha) - before; n != 1 {
		t.Errorf("a one-event batch on an identity no replica wrote: %d round trips, want 1", n)
	}
	before = trips(&hb)
	if got := add(b, "FR", 1); !got.New || got.Size != 1 {
		t.Errorf("second country on replica b, which never saw the identity: %+v, want new to a set of 1", got)
	}
	if n := trips(&hb) - before; n != 2 {
		t.Errorf("a one-event batch on an identity another replica wrote: %d round trips, want 2 (the refused write and its retry)", n)
	}
	st := b.RecordStats()
	if st.MissesFound != 1 || st.Conflicts != 0 {
		t.Errorf("replica b: %+v, want one miss found in Redis and no conflict", st)
	}
	if got := add(a, "DE", 2); got.New || got.Size != 2 {
		t.Errorf("first country again on replica a, its cache stale: %+v, want not new, in a set of 2", got)
	}
	if st := a.RecordStats(); st.Conflicts != 1 || st.MissesFound != 0 {
		t.Errorf("replica a: %+v, want one conflict (b wrote since) and no miss found", st)
	}
	ctx := context.Background()
	if n := srv.CommandStats(ctx)["get"]; n != 2 {
		t.Errorf("%d GETs, want 2: the refused writes' answers, no read of a missing record", n)
	}
}
