package main

import (
	"context"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/internal/redistest"
)

// TestRedisBytesIn: the bytes a real redis-server read grow by at least
// what a write sent it, which is what the report divides by the events.
func TestRedisBytesIn(t *testing.T) {
	rdb := redistest.StartServer(t).Client()
	ctx := context.Background()
	before, err := redisBytesIn(ctx, rdb)
	if err != nil {
		t.Fatal(err)
	}
	value := strings.Repeat("x", 10_000)
	if err := rdb.Set(ctx, "k", value, 0).Err(); err != nil {
		t.Fatal(err)
	}
	after, err := redisBytesIn(ctx, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < int64(len(value)) || d > int64(len(value))+1000 {
		t.Errorf("bytes in grew by %d over a SET of %d bytes; want the value and a little framing", d, len(value))
	}
}
