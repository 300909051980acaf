package server_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"runtime"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/state/memory"
)

// heapInUse returns the live heap after a collection.
func heapInUse() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestReadAheadBoundedByBytes: a client that grants the server no window
// for answers and sends many large requests makes the server read ahead
// only ReadAheadBytes of them, not MaxInFlight (64) requests: the server's
// live heap grows by a few times that budget, not by 60 requests.
func TestReadAheadBoundedByBytes(t *testing.T) {
	const (
		budget   = 4 << 20
		requests = 60
		events   = 2000 // ~1 MiB a request; ~160 KB of INVALID verdicts an answer
	)
	counter := &recvCounter{}
	addr := serveTCP(t, memory.New(), server.Options{ReadAheadBytes: budget, StatsHandler: counter})
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		// The smallest windows, fixed: answers stop after 64 KiB unread.
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	evs := make([]*iamsentryv1.Event, events)
	for i := range evs {
		b := make([]byte, 250)
		rand.Read(b)
		evs[i] = jsonEvent([]byte(hex.EncodeToString(b))) // malformed: INVALID
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := iamsentryv1.NewDetectionServiceClient(c).Score(ctx, grpc.UseCompressor(gzip.Name))
	if err != nil {
		t.Fatal(err)
	}
	base := heapInUse()
	sent := make(chan int, 1)
	go func() {
		n := 0
		for i := range requests {
			if stream.Send(&iamsentryv1.ScoreRequest{Sequence: uint64(i), Events: evs}) != nil {
				break
			}
			n++
		}
		sent <- n
	}()
	read := settled(t, counter.n.Load, 500*time.Millisecond)
	grown := heapInUse() - base
	t.Logf("server read %d requests of ~1 MiB; live heap grew %d MiB", read, grown>>20)
	if limit := int64(6 * budget); grown > limit {
		t.Errorf("a stream that reads no answers grew the heap by %d bytes (%d requests read); want at most %d (read-ahead budget %d bytes)", grown, read, limit, budget)
	}
	cancel()
	<-sent
}
