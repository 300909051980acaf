package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
)

// TestRefreshSkipped writes one of every operation twice with a long TTL:
// the second time, every key exists with the TTL this store just set, so
// the group script sends no PEXPIRE. Then it deletes every key and writes
// again: a skipped refresh must never leave a key without a TTL.
func TestRefreshSkipped(t *testing.T) {
	srv := redistest.StartServer(t)
	s := newStore(t, srv.URL()+"?layout=keys")
	ctx := context.Background()
	c := srv.Client()
	const ttl = 2 * time.Hour
	write := func() {
		var b state.Batch
		reads := everyWrite(&b, "acme", "refresh", ttl)
		exec(t, s, &b)
		for i, read := range reads {
			if err := read(); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
	}
	pexpires := func() int64 { return srv.CommandStats(ctx)["pexpire"] }
	write()
	before := pexpires()
	write()
	if n := pexpires() - before; n != 0 {
		t.Errorf("second write of existing keys within the refresh period sent %d PEXPIRE, want 0", n)
	}
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	write()
	keys, err = c.Keys(ctx, "*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys after writing again: %v, %v", keys, err)
	}
	for _, k := range keys {
		if d, err := c.PTTL(ctx, k).Result(); err != nil || d <= 0 || d > ttl {
			t.Errorf("key %q recreated within the refresh period: PTTL %v, %v; want in (0, %v]", k, d, err, ttl)
		}
	}
}
