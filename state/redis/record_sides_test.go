package redis_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state/redis"
)

// sideKeysAllNamed requires, after a random run of two replicas on
// records large enough to hold side records and pages, rewritten many
// times, that every side record key under prefix is named by its record or
// one of its pages, and that every name has its key: each version of a
// page or large entry is a key of its own, and a write that replaces one
// deletes the one replaced (and a refused write the ones it made).
func sideKeysAllNamed(t *testing.T, srv *redistest.Server, prefix string) {
	t.Helper()
	ctx := context.Background()
	admin := srv.Client()
	var records, sides []string
	iter := admin.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if k := iter.Val(); strings.HasSuffix(k, "}:rec") {
			records = append(records, k)
		} else {
			sides = append(sides, k)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if len(records) == 0 || len(sides) == 0 {
		t.Fatalf("%d records, %d side records: the run reached no side record", len(records), len(sides))
	}
	now := time.Now().UnixNano()
	var named []string
	for _, main := range records {
		queue := []string{main}
		for len(queue) > 0 {
			k := queue[0]
			queue = queue[1:]
			b, err := admin.Get(ctx, k).Bytes()
			if err != nil {
				t.Fatalf("GET %s, named by its record: %v", k, err)
			}
			more, err := redis.SideKeysNamed(main, b, now)
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			named = append(named, more...)
			queue = append(queue, more...)
		}
	}
	slices.Sort(named)
	slices.Sort(sides)
	if !slices.Equal(named, sides) {
		t.Errorf("side records in Redis are not those the records name:\nin Redis, not named: %v\nnamed, not in Redis: %v",
			minus(sides, named), minus(named, sides))
	}
}

// minus returns the elements of sorted a not in sorted b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
		}
	}
	return out
}
