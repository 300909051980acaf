package memory_test

import (
	"context"
	"fmt"
	"runtime/debug"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// identityOps queues the state one identity of the flood leaves behind, as
// the detectors write it: a dedupe claim, windows, a novelty set with its
// owner, a mark and a bucket.
func identityOps(b *state.Batch, identity string, i int) {
	at := time.Date(2024, 9, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
	k := func(name string) state.Key { return state.Key{Tenant: "acme", Identity: identity, Name: name} }
	b.Claim(k("verdict"), []byte(`{"findings":[]}`), time.Hour)
	b.WindowAdd(k("enum:actions"), "iam:ListUsers", at, state.Span{From: at.Add(-10 * time.Minute), To: at}, time.Hour)
	b.WindowAdd(k("enum:services"), "iam.amazonaws.com", at, state.Span{From: at.Add(-10 * time.Minute), To: at}, time.Hour)
	b.NoveltyAddBy(k("loc:network"), fmt.Sprintf("203.0.%d.0/24", i%256), fmt.Sprintf("event-%d", i), at, 30*24*time.Hour)
	b.Mark(k("loc:first-seen"), at, state.KeepEarliest, 30*24*time.Hour)
	b.BucketAdd(k("reads"), "ListUsers", at, time.Hour, 24, 7*24*time.Hour)
}

// flood writes identities [from, to) of the flood, 256 per batch.
func flood(t *testing.T, s state.Store, from, to int) {
	t.Helper()
	for first := from; first < to; first += 256 {
		var b state.Batch
		for i := first; i < min(first+256, to); i++ {
			identityOps(&b, fmt.Sprintf("key:AKIAFLOOD%011d", i), i)
		}
		if err := s.Exec(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHeapBoundedUnderIdentityFlood is issue 16's defect 4: identities never
// seen again, each writing a few keys, grew the embedded store without
// bound. With a Go memory limit set, the store's default budget is half of
// it, and the heap the store holds after a flood of several times that
// stays under the budget plus a margin.
func TestHeapBoundedUnderIdentityFlood(t *testing.T) {
	const limit = 8 << 20
	before := heapInUse()
	// The store reads the limit when it is made; the limit is lifted again
	// at once so that the collector does not thrash on the test's own heap.
	prev := debug.SetMemoryLimit(limit)
	s := memory.New(memory.WithSweepInterval(0))
	debug.SetMemoryLimit(prev)
	defer s.Close()
	const identities = 30_000 // 86 MiB on a store without a budget
	flood(t, s, 0, identities)
	held := heapInUse() - before
	budget := int64(limit / 2)
	margin := budget/4 + 1<<20
	t.Logf("%d identities: heap held %.1f MiB, budget %.1f MiB", identities, float64(held)/(1<<20), float64(budget)/(1<<20))
	if held > budget+margin {
		t.Fatalf("store holds %d bytes of heap after %d identities; want at most the budget (half of GOMEMLIMIT %d) + %d", held, identities, limit, margin)
	}
}

// get reads identity's verdict key: nil when the identity was evicted.
func get(t *testing.T, s state.Store, identity string) []byte {
	t.Helper()
	var b state.Batch
	f := b.Get(state.Key{Tenant: "acme", Identity: identity, Name: "verdict"})
	if err := s.Exec(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	v, err := f.Get()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEvictsLeastRecentlyUsedIdentities(t *testing.T) {
	const budget = 2 << 20
	s := memory.New(memory.WithMaxBytes(budget), memory.WithSweepInterval(0))
	defer s.Close()
	const n = 20_000
	hot := "key:AKIAHOT"
	for first := 0; first < n; first += 100 {
		var b state.Batch
		identityOps(&b, hot, first) // used all along: must survive
		if err := s.Exec(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		flood(t, s, first, first+100)
	}
	st := s.Stats()
	t.Logf("after %d identities: %+v", n+1, st)
	if st.Bytes > budget {
		t.Errorf("accounted bytes %d exceed the budget %d", st.Bytes, budget)
	}
	if st.Evictions == 0 || st.Evictions != int64(n+1-st.Identities) {
		t.Errorf("Evictions = %d; want every identity written and no longer held: %d", st.Evictions, n+1-st.Identities)
	}
	if st.Keys != 6*st.Identities {
		t.Errorf("%d keys in %d identities; want identities evicted whole (6 keys each)", st.Keys, st.Identities)
	}
	if get(t, s, hot) == nil {
		t.Error("the identity used all along was evicted")
	}
	for i := range n / 2 {
		if get(t, s, fmt.Sprintf("key:AKIAFLOOD%011d", i)) != nil {
			t.Fatalf("identity %d of the older half survived; want the least recently used evicted first", i)
		}
	}
	for i := n - 200; i < n; i++ {
		if get(t, s, fmt.Sprintf("key:AKIAFLOOD%011d", i)) == nil {
			t.Fatalf("identity %d of the last 200 written was evicted; want the most recently used kept", i)
		}
	}
}

func TestNoBudget(t *testing.T) {
	s := memory.New(memory.WithMaxBytes(0), memory.WithSweepInterval(0))
	defer s.Close()
	flood(t, s, 0, 5000)
	if st := s.Stats(); st.Identities != 5000 || st.Evictions != 0 || st.MaxBytes != 0 {
		t.Fatalf("without a budget: %+v; want all 5000 identities and no eviction", st)
	}
}
