package redis_test

import (
	"context"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/internal/redistest"
)

// TestRecordLogMatchesMemory runs two replicas of the record layout on
// records of a few KiB, rewritten hundreds of times, against the memory
// store: records past record.LogThreshold are stored in the log format and
// written by appending what a batch changed (SETRANGE of the version,
// APPEND), with a whole rewrite now and then. Every answer must match the
// memory store's, with the replicas' caches going stale under each other's
// appends; the test fails if no append ran, or if a record left in Redis
// is not in the log format.
func TestRecordLogMatchesMemory(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	const prefix = "log:"
	matchMemory(t, srv.URL()+"?layout=record&prefix="+prefix, 800, 8, 60)
	sideKeysAllNamed(t, srv, prefix)
	stats := srv.CommandStats(ctx)
	// Large entries' side records take APPENDs of their own, without a
	// SETRANGE (their version does not change): see TestSideLogMatchesMemory.
	if stats["setrange"] == 0 || stats["append"] < stats["setrange"] {
		t.Errorf("%d APPENDs, %d SETRANGEs: want appends, each version's SETRANGE with its APPEND", stats["append"], stats["setrange"])
	}
	admin := srv.Client()
	iter := admin.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	logs := 0
	for iter.Next(ctx) {
		k := iter.Val()
		if !strings.HasSuffix(k, "}:rec") {
			continue
		}
		b, err := admin.Get(ctx, k).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 8 && (b[8] == 5 || b[8] == 7) { // 7: with deltas
			logs++
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if logs == 0 {
		t.Error("no record left in the log format: the test does not reach it")
	}
}
