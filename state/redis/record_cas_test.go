package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
)

// TestOneWriteCallPerBatch: on a standalone server a batch's writes to
// many identities go as one script call, and every answer and record is
// as if each had its own: the second batch reads what the first wrote.
func TestOneWriteCallPerBatch(t *testing.T) {
	srv := redistest.StartServer(t)
	s := newStore(t, srv.URL()+"?layout=record&prefix=one:")
	ctx := context.Background()
	const identities = 20
	key := func(i int) state.Key { return state.Key{Tenant: "t", Identity: fmt.Sprint("id", i), Name: "v"} }
	var put state.Batch
	for i := range identities {
		put.Put(key(i), []byte(fmt.Sprint("value", i)), time.Hour)
	}
	before := srv.CommandStats(ctx)["evalsha"]
	if err := s.Exec(ctx, &put); err != nil {
		t.Fatal(err)
	}
	if calls := srv.CommandStats(ctx)["evalsha"] - before; calls != 1 {
		t.Errorf("%d identities written in %d script calls, want 1", identities, calls)
	}
	other := newStore(t, srv.URL()+"?layout=record&prefix=one:") // a cold cache: reads Redis
	var get state.Batch
	got := make([]*state.Future[[]byte], identities)
	for i := range identities {
		got[i] = get.Get(key(i))
	}
	if err := other.Exec(ctx, &get); err != nil {
		t.Fatal(err)
	}
	for i, f := range got {
		if v, err := f.Get(); err != nil || string(v) != fmt.Sprint("value", i) {
			t.Errorf("identity %d: %q, %v; want %q", i, v, err, fmt.Sprint("value", i))
		}
	}
}
