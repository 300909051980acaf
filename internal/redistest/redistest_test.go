package redistest_test

import (
	"context"
	"sync/atomic"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iamsentry/iamsentry/internal/redistest"
)

func TestServerKillRestart(t *testing.T) {
	ctx := context.Background()
	s := redistest.StartServer(t)
	c := s.Client()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET on a fresh server: %v", err)
	}
	if got := s.CommandStats(ctx)["set"]; got != 1 {
		t.Errorf("CommandStats()[set] = %d, want 1", got)
	}
	s.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING after Kill succeeded")
	}
	s.Restart()
	if err := c.Ping(ctx).Err(); err != nil {
		// The pool's old connection died with the server; one more try
		// dials afresh.
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatalf("PING after Restart: %v", err)
		}
	}
	if n, _ := c.Exists(ctx, "k").Result(); n != 0 {
		t.Errorf("key survived a restart of a server without persistence")
	}
}

func TestCluster(t *testing.T) {
	ctx := context.Background()
	c := redistest.StartCluster(t, 3)
	cc := c.Client()
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if err := cc.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	var masters atomic.Int32 // ForEachMaster calls back concurrently
	_ = cc.ForEachMaster(ctx, func(context.Context, *goredis.Client) error { masters.Add(1); return nil })
	if masters := masters.Load(); masters != 3 {
		t.Errorf("cluster has %d masters, want 3", masters)
	}
}

func TestParseCommandStats(t *testing.T) {
	info := "# Commandstats\r\ncmdstat_evalsha:calls=12,usec=40,usec_per_call=3.33,rejected_calls=0,failed_calls=2\r\n" +
		"cmdstat_client|setinfo:calls=2,usec=1\r\ncmdstat_set:calls=3,usec=5\r\n"
	got := redistest.ParseCommandStats(info)
	if got["evalsha"] != 12 || got["set"] != 3 || got["client setinfo"] != 2 || len(got) != 3 {
		t.Errorf("ParseCommandStats = %v", got)
	}
}
