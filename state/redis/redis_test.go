package redis_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/statetest"
)

var base = time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC)

// everyOp queues one of every operation on keys of identity id and returns
// the readers of their futures' errors.
func everyOp(b *state.Batch, tenant, id string) []func() error {
	return append(everyWrite(b, tenant, id, time.Hour), everyRead(b, tenant, id)...)
}

// everyWrite queues one of every operation that writes, each setting ttl,
// and returns the readers of their futures' errors.
func everyWrite(b *state.Batch, tenant, id string, ttl time.Duration) []func() error {
	k := func(name string) state.Key { return state.Key{Tenant: tenant, Identity: id, Name: name} }
	s := state.Span{From: base, To: base.Add(time.Hour)}
	return []func() error{
		errOf(b.Claim(k("claim"), []byte("v"), ttl)),
		errOf(b.Put(k("put"), []byte("v"), ttl)),
		errOf(b.WindowAdd(k("win"), "m", base, s, ttl)),
		errOf(b.WindowAddRead(k("win"), "n", base, s, 5, ttl)),
		errOf(b.NoveltyAdd(k("nov"), "m", base, ttl)),
		errOf(b.Mark(k("mark"), base, state.KeepLatest, ttl)),
		errOf(b.BucketAdd(k("bkt"), "m", base, time.Hour, 3, ttl)),
		errOf(b.Throttle(k("thr"), "o", ttl)),
	}
}

// everyRead queues one of every operation that only reads, on the keys
// everyWrite writes, and returns the readers of their futures' errors.
func everyRead(b *state.Batch, tenant, id string) []func() error {
	k := func(name string) state.Key { return state.Key{Tenant: tenant, Identity: id, Name: name} }
	s := state.Span{From: base, To: base.Add(time.Hour)}
	return []func() error{
		errOf(b.Get(k("put"))),
		errOf(b.WindowRead(k("win"), s, 5)),
		errOf(b.ReadMark(k("mark"))),
		errOf(b.BucketRead(k("bkt"), base, time.Hour, 3)),
	}
}

func errOf[T any](f *state.Future[T]) func() error {
	return func() error { _, err := f.Get(); return err }
}

func exec(t *testing.T, s state.Store, b *state.Batch) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Exec(ctx, b); err != nil {
		t.Fatalf("Exec: %v", err)
	}
}

func mustGet[T any](t *testing.T, what string, f *state.Future[T]) T {
	t.Helper()
	v, err := f.Get()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// scriptedBatch queues, on fresh keys, operations whose answers depend on
// queue order, and checks them after Exec. Plain commands (ReadMark, Get)
// follow scripts on the same key: if a script missed the cache and only it
// were re-run, the plain command would have read the state before it.
func scriptedBatch(t *testing.T, id string) (*state.Batch, func()) {
	k := func(name string) state.Key { return state.Key{Tenant: "noscript", Identity: id, Name: name} }
	t1, t2 := base, base.Add(time.Minute)
	s := state.Span{From: base, To: base.Add(time.Hour)}
	b := new(state.Batch)
	m1 := b.Mark(k("mark"), t2, state.KeepLatest, time.Hour)
	rm := b.ReadMark(k("mark"))
	m2 := b.Mark(k("mark"), t1, state.KeepLatest, time.Hour)
	wa := b.WindowAdd(k("win"), "a", t1, s, time.Hour)
	wr := b.WindowRead(k("win"), s, 10)
	n1 := b.NoveltyAdd(k("nov"), "x", t1, time.Hour)
	n2 := b.NoveltyAdd(k("nov"), "x", t1, time.Hour)
	ba := b.BucketAdd(k("bkt"), "e1", t1, time.Hour, 2, time.Hour)
	br := b.BucketRead(k("bkt"), t1, time.Hour, 2)
	b.Put(k("val"), []byte("v"), time.Hour)
	g := b.Get(k("val"))
	return b, func() {
		t.Helper()
		if got := mustGet(t, "Mark 1", m1); got.Set {
			t.Errorf("first Mark = %+v, want unset", got)
		}
		if got := mustGet(t, "ReadMark", rm); !got.Set || !got.At.Equal(t2) {
			t.Errorf("ReadMark after Mark in the batch = %+v, want set at %v", got, t2)
		}
		if got := mustGet(t, "Mark 2", m2); !got.Set || !got.At.Equal(t2) {
			t.Errorf("second Mark = %+v, want the first mark, %v", got, t2)
		}
		if got := mustGet(t, "WindowAdd", wa); got != 1 {
			t.Errorf("WindowAdd = %d, want 1", got)
		}
		if got := mustGet(t, "WindowRead", wr); got.Count != 1 || !slices.Equal(got.Members, []string{"a"}) {
			t.Errorf("WindowRead = %+v, want {1 [a]}", got)
		}
		if got := mustGet(t, "NoveltyAdd 1", n1); got != (state.Novelty{New: true}) {
			t.Errorf("first NoveltyAdd = %+v, want new", got)
		}
		if got := mustGet(t, "NoveltyAdd 2", n2); got != (state.Novelty{Size: 1}) {
			t.Errorf("second NoveltyAdd = %+v, want {New:false Size:1}", got)
		}
		if got := mustGet(t, "BucketAdd", ba); !slices.Equal(got, []int{0, 1}) {
			t.Errorf("BucketAdd = %v, want [0 1]", got)
		}
		if got := mustGet(t, "BucketRead", br); !slices.Equal(got, []int{0, 1}) {
			t.Errorf("BucketRead = %v, want [0 1]", got)
		}
		if got := mustGet(t, "Get", g); string(got) != "v" {
			t.Errorf("Get = %q, want v", got)
		}
	}
}

// TestNoScriptRecovery flushes the script cache between batches: the next
// batch must load the scripts again and give the answers queue order asks.
func TestNoScriptRecovery(t *testing.T) {
	srv := redistest.StartServer(t)
	s := newStore(t, srv.URL())
	ctx := context.Background()
	for round := range 3 {
		if err := srv.Client().ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		before := srv.CommandStats(ctx)["script load"]
		b, check := scriptedBatch(t, "round-"+string(rune('a'+round)))
		exec(t, s, b)
		check()
		if after := srv.CommandStats(ctx)["script load"]; after <= before {
			t.Errorf("round %d: no SCRIPT LOAD after SCRIPT FLUSH (%d before, %d after)", round, before, after)
		}
	}
	// With the cache warm, nothing is loaded again.
	before := srv.CommandStats(ctx)["script load"]
	b, check := scriptedBatch(t, "warm")
	exec(t, s, b)
	check()
	if after := srv.CommandStats(ctx)["script load"]; after != before {
		t.Errorf("SCRIPT LOAD ran %d times with a warm cache", after-before)
	}
}

func TestNoScriptRecoveryCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node Redis Cluster")
	}
	c := redistest.StartCluster(t, 3)
	s := newStore(t, c.URL())
	ctx := context.Background()
	for round := range 2 {
		if err := c.Client().ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
			return m.ScriptFlush(ctx).Err()
		}); err != nil {
			t.Fatal(err)
		}
		b, check := scriptedBatch(t, "cluster-"+string(rune('a'+round)))
		exec(t, s, b)
		check()
	}
}

// TestEveryKeyHasTTL writes one of every operation and then checks every
// key on the server: none may live forever.
func TestEveryKeyHasTTL(t *testing.T) {
	srv := redistest.StartServer(t)
	s := newStore(t, srv.URL()+"?layout=keys")
	var b state.Batch
	reads := everyOp(&b, "acme", "AKIAEXAMPLE")
	exec(t, s, &b)
	for i, read := range reads {
		if err := read(); err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	ctx := context.Background()
	keys, err := srv.Client().Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	// claim, put, win, nov, mark, bkt, thr: reads create nothing.
	if len(keys) != 7 {
		t.Errorf("keys after one of every op = %d (%v), want 7", len(keys), keys)
	}
	for _, k := range keys {
		ttl, err := srv.Client().PTTL(ctx, k).Result()
		if err != nil || ttl <= 0 || ttl > time.Hour {
			t.Errorf("key %q: PTTL = %v, %v; want in (0, 1h]", k, ttl, err)
		}
		if !strings.HasPrefix(k, "iamsentry:{acme:AKIAEXAMPLE}:") {
			t.Errorf("key %q lacks the prefix and hash tag", k)
		}
	}
}

// TestWriteWithoutTTLIsRefused queues every write with a TTL that is not
// positive: each must fail on its own future and leave no key, since the
// key would never expire. Reads set no TTL and must not be refused.
func TestWriteWithoutTTLIsRefused(t *testing.T) {
	srv := redistest.StartServer(t)
	s := newStore(t, srv.URL())
	for _, ttl := range []time.Duration{0, -time.Second} {
		var b state.Batch
		writes := everyWrite(&b, "acme", "no-ttl", ttl)
		reads := everyRead(&b, "acme", "no-ttl")
		exec(t, s, &b)
		for i, write := range writes {
			if err := write(); err == nil || !strings.Contains(err.Error(), "TTL") {
				t.Errorf("TTL %v: write %d: err = %v, want the TTL refused", ttl, i, err)
			}
		}
		for i, read := range reads {
			if err := read(); err != nil {
				t.Errorf("TTL %v: read %d: %v, want no error", ttl, i, err)
			}
		}
	}
	if keys, err := srv.Client().Keys(context.Background(), "*").Result(); err != nil || len(keys) != 0 {
		t.Errorf("keys after refused writes: %v, %v; want none", keys, err)
	}
}

// pipelineCounter counts what the client sends through go-redis hooks.
type pipelineCounter struct {
	pipelines, commands, cmdsInPipelines atomic.Int64
}

func (h *pipelineCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *pipelineCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		switch cmd.Name() {
		case "hello", "auth", "select", "client":
			// A new connection's handshake: once per connection, not per Exec.
		default:
			h.commands.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *pipelineCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.pipelines.Add(1)
		h.cmdsInPipelines.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// TestOneRoundTrip checks that a batch of every operation is one pipeline
// on standalone, of one command per identity, and no command besides.
func TestOneRoundTrip(t *testing.T) {
	srv := redistest.StartServer(t)
	s := newStore(t, srv.URL()+"?layout=keys")
	var h pipelineCounter
	s.Client().AddHook(&h)
	for round := range 3 {
		h.pipelines.Store(0)
		h.commands.Store(0)
		h.cmdsInPipelines.Store(0)
		var b state.Batch
		for i := range 10 {
			everyOp(&b, "acme", "id-"+string(rune('a'+round))+string(rune('a'+i)))
		}
		exec(t, s, &b)
		// One command per identity: its group script.
		if p, c, n := h.pipelines.Load(), h.commands.Load(), h.cmdsInPipelines.Load(); p != 1 || c != 0 || n != 10 {
			t.Errorf("round %d: Exec of %d ops on 10 identities sent %d pipelines of %d commands and %d single commands; want 1 pipeline of 10, 0 single",
				round, b.Len(), p, n, c)
		}
	}
}

// TestUnavailable kills the server under a Store: Exec, every future and
// Ping must report state.ErrUnavailable, and the same Store must serve again
// once the server is back, with its script cache empty.
func TestUnavailable(t *testing.T) {
	srv := redistest.StartServer(t)
	s := newStore(t, srv.URL()+"?dial_timeout=300ms&read_timeout=500ms&write_timeout=500ms")
	ctx := context.Background()
	var b state.Batch
	everyOp(&b, "acme", "before")
	exec(t, s, &b)

	srv.Kill()
	var down state.Batch
	reads := everyOp(&down, "acme", "during")
	if err := s.Exec(ctx, &down); !errors.Is(err, state.ErrUnavailable) {
		t.Fatalf("Exec with the server killed = %v, want state.ErrUnavailable", err)
	}
	for i, read := range reads {
		if err := read(); !errors.Is(err, state.ErrUnavailable) {
			t.Errorf("future %d with the server killed = %v, want state.ErrUnavailable", i, err)
		}
	}
	if err := s.Ping(ctx); !errors.Is(err, state.ErrUnavailable) {
		t.Errorf("Ping with the server killed = %v, want state.ErrUnavailable", err)
	}

	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, check := scriptedBatch(t, "after-restart")
		err := s.Exec(ctx, b)
		if err == nil {
			check()
			break
		}
		if !errors.Is(err, state.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Exec after Restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after Restart: %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	srv := redistest.StartServer(t)
	statetest.Lifecycle(t, func(t *testing.T) state.Store { return newStore(t, srv.URL()) })
}

// TestWrongType checks that a key used as another kind fails that op only.
func TestWrongType(t *testing.T) {
	s := newStore(t, redistest.StartServer(t).URL()+"?layout=keys")
	k := state.Key{Identity: "id", Name: "k"}
	var b state.Batch
	b.Mark(k, base, state.KeepLatest, time.Hour)
	w := b.WindowRead(k, state.Span{From: base, To: base}, 1)
	ok := b.Put(k, []byte("v"), time.Hour)
	exec(t, s, &b)
	if _, err := w.Get(); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("WindowRead of a mark key: err = %v, want WRONGTYPE on its future", err)
	}
	if _, err := ok.Get(); err != nil {
		t.Errorf("Put over a mark key: %v, want it to replace the mark", err)
	}
}

// TestMarkOrder checks the mark script's comparison of decimal nanoseconds
// where string order and number order part: different lengths, and times
// before 1970, which are negative.
func TestMarkOrder(t *testing.T) {
	s := newStore(t, redistest.StartServer(t).URL())
	times := []time.Time{
		time.Unix(0, 0), time.Unix(0, 9), time.Unix(0, 10), time.Unix(0, -9), time.Unix(0, -10),
		time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC), base, base.Add(time.Nanosecond), base.Add(-time.Nanosecond),
	}
	for _, keep := range []state.Keep{state.KeepLatest, state.KeepEarliest} {
		k := state.Key{Identity: "order", Name: strconv.Itoa(int(keep))}
		var want time.Time
		for i, at := range times {
			var b state.Batch
			prev := b.Mark(k, at, keep, time.Hour)
			exec(t, s, &b)
			got := mustGet(t, "Mark", prev)
			if i > 0 && !got.At.Equal(want) {
				t.Errorf("keep %d: Mark(%v) returned %v, want %v", keep, at, got.At, want)
			}
			if i == 0 || (keep == state.KeepLatest && at.After(want)) || (keep == state.KeepEarliest && at.Before(want)) {
				want = at
			}
		}
	}
}
