package memory_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
	"github.com/iamsentry/iamsentry/state/statetest"
)

func TestConformance(t *testing.T) {
	statetest.Run(t, statetest.Harness{
		New: func(t *testing.T) state.Store {
			s := memory.New()
			t.Cleanup(func() { s.Close() })
			return s
		},
	})
}

// TestConformanceShared runs the suite against one store shared by every
// subtest, as a long-lived Redis would be: the rules must not collide.
func TestConformanceShared(t *testing.T) {
	s := memory.New()
	t.Cleanup(func() { s.Close() })
	statetest.Run(t, statetest.Harness{New: func(*testing.T) state.Store { return s }})
}

// fakeClock is a wall clock that moves only when told to.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// fill writes n keys of assorted kinds with the given TTL.
func fill(t *testing.T, s *memory.Store, n int, ttl time.Duration) {
	t.Helper()
	at := time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC)
	var b state.Batch
	for i := range n {
		k := state.Key{Tenant: "t", Identity: fmt.Sprintf("id-%d", i), Name: "k"}
		switch i % 4 {
		case 0:
			b.Claim(k, []byte("v"), ttl)
		case 1:
			b.WindowAdd(k, "m", at, state.Span{From: at, To: at}, ttl)
		case 2:
			b.Mark(k, at, state.KeepLatest, ttl)
		case 3:
			b.BucketAdd(k, "m", at, time.Minute, 1, ttl)
		}
	}
	if err := s.Exec(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
}

func TestSweepReclaims(t *testing.T) {
	clock := newFakeClock()
	s := memory.New(memory.WithClock(clock.Now), memory.WithSweepInterval(0))
	defer s.Close()
	const n = 10_000
	fill(t, s, n, time.Minute)
	if got := s.Len(); got != n {
		t.Fatalf("Len after %d writes = %d", n, got)
	}
	clock.Advance(59 * time.Second)
	s.Sweep()
	if got := s.Len(); got != n {
		t.Fatalf("Len after a sweep before the TTL = %d, want %d", got, n)
	}
	clock.Advance(2 * time.Second)
	if got := s.Len(); got != n {
		t.Fatalf("Len past the TTL before a sweep = %d, want %d (expired, not yet reclaimed)", got, n)
	}
	s.Sweep()
	if got := s.Len(); got != 0 {
		t.Fatalf("Len after sweeping expired keys = %d, want 0", got)
	}
}

func TestJanitorReclaims(t *testing.T) {
	clock := newFakeClock()
	s := memory.New(memory.WithClock(clock.Now), memory.WithSweepInterval(time.Millisecond))
	defer s.Close()
	fill(t, s, 1000, time.Minute)
	clock.Advance(time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	for s.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("janitor left %d expired keys", s.Len())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestExpiredHiddenBeforeSweep(t *testing.T) {
	clock := newFakeClock()
	s := memory.New(memory.WithClock(clock.Now), memory.WithSweepInterval(0))
	defer s.Close()
	k := state.Key{Identity: "id", Name: "v"}
	var b1 state.Batch
	b1.Put(k, []byte("v"), time.Second)
	if err := s.Exec(context.Background(), &b1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	var b2 state.Batch
	got := b2.Get(k)
	if err := s.Exec(context.Background(), &b2); err != nil {
		t.Fatal(err)
	}
	if v, err := got.Get(); v != nil || err != nil {
		t.Fatalf("Get at the TTL = %q, %v; want nil, nil", v, err)
	}
	if n := s.Len(); n != 0 {
		t.Fatalf("Len after touching an expired key = %d, want 0 (reclaimed on access)", n)
	}
}

func TestWrongKind(t *testing.T) {
	s := memory.New()
	defer s.Close()
	k := state.Key{Identity: "id", Name: "k"}
	var b state.Batch
	b.Mark(k, time.Now(), state.KeepLatest, time.Hour)
	w := b.WindowRead(k, state.Span{To: time.Now()}, 1)
	ok := b.Put(k, []byte("v"), time.Hour)
	if err := s.Exec(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Get(); err == nil {
		t.Error("WindowRead of a mark key succeeded, want an error on its future")
	}
	if _, err := ok.Get(); err != nil {
		t.Errorf("Put over a mark key: %v, want it to replace the mark", err)
	}
}

func TestLifecycle(t *testing.T) {
	statetest.Lifecycle(t, func(*testing.T) state.Store { return memory.New() })
}

// Sets move from a slice to a map past a few members; both must answer
// alike, and trimming must work on either.
func TestSetsPastFewMembers(t *testing.T) {
	s := memory.New()
	defer s.Close()
	base := time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC)
	w := state.Key{Identity: "id", Name: "w"}
	nv := state.Key{Identity: "id", Name: "n"}
	for i := range 30 {
		at := base.Add(time.Duration(i) * time.Minute)
		var b state.Batch
		count := b.WindowAdd(w, fmt.Sprintf("m%02d", i), at, state.Span{From: base, To: at}, time.Hour)
		again := b.WindowAdd(w, fmt.Sprintf("m%02d", i/2), at, state.Span{From: base, To: at}, time.Hour)
		nov := b.NoveltyAdd(nv, fmt.Sprintf("m%02d", i), at, time.Hour)
		if err := s.Exec(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		if n, _ := count.Get(); n != i+1 {
			t.Fatalf("member %d: window count %d, want %d", i, n, i+1)
		}
		if n, _ := again.Get(); n != i+1 {
			t.Fatalf("member %d re-added: window count %d, want %d", i/2, n, i+1)
		}
		if n, _ := nov.Get(); !n.New || n.Size != i {
			t.Fatalf("member %d: novelty %+v, want new with %d before it", i, n, i)
		}
	}
	// An hour and a half on, members last seen before the TTL are dropped.
	late := base.Add(90 * time.Minute)
	var b state.Batch
	count := b.WindowAdd(w, "late", late, state.Span{From: base, To: late}, time.Hour)
	old := b.NoveltyAdd(nv, "m00", late, time.Hour)
	if err := s.Exec(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	// Every member was last seen before late−TTL (30 min): only "late" is
	// left.
	if n, _ := count.Get(); n != 1 {
		t.Fatalf("after the TTL: window count %d, want 1 (only the new member)", n)
	}
	if n, _ := old.Get(); !n.New {
		t.Fatalf("m00 after the TTL: %+v, want new again", n)
	}
}

// TestIdentityDroppedMidRun checks that an operation on the identity of
// the one before it, which takes that identity's group without looking
// it up again, does not take a group the operation before dropped: the
// group held only an expired key, reclaimed when it was read, and the
// write after it must land in a new group that later batches find.
func TestIdentityDroppedMidRun(t *testing.T) {
	clock := newFakeClock()
	s := memory.New(memory.WithClock(clock.Now), memory.WithSweepInterval(0))
	defer s.Close()
	ctx := context.Background()
	at := time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC)
	old := state.Key{Tenant: "t", Identity: "principal:a", Name: "old"}
	fresh := state.Key{Tenant: "t", Identity: "principal:a", Name: "fresh"}

	var b1 state.Batch
	b1.Mark(old, at, state.KeepLatest, time.Second)
	if err := s.Exec(ctx, &b1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)

	var b2 state.Batch
	gone := b2.ReadMark(old) // reclaims the expired key, and with it the group
	b2.Mark(fresh, at, state.KeepLatest, time.Hour)
	if err := s.Exec(ctx, &b2); err != nil {
		t.Fatal(err)
	}
	if m, err := gone.Get(); err != nil || m.Set {
		t.Fatalf("expired mark read as %+v, %v; want unset", m, err)
	}

	var b3 state.Batch
	got := b3.ReadMark(fresh)
	if err := s.Exec(ctx, &b3); err != nil {
		t.Fatal(err)
	}
	if m, err := got.Get(); err != nil || !m.Set || !m.At.Equal(at) {
		t.Fatalf("mark written after its identity's group was dropped read as %+v, %v; want set at %v", m, err, at)
	}
	if st := s.Stats(); st.Keys != 1 || st.Identities != 1 {
		t.Fatalf("store holds %d keys of %d identities; want 1 of 1", st.Keys, st.Identities)
	}
}
