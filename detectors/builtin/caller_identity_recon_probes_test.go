package builtin

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// TestDataReadsAreGets holds what classifyRecon assumes to skip the
// lookup for List and Describe calls.
func TestDataReadsAreGets(t *testing.T) {
	for c := range dataReads {
		if !strings.HasPrefix(c.name, "Get") {
			t.Errorf("dataReads holds %s:%s, not a Get call: classifyRecon looks it up only for names starting with G", c.source, c.name)
		}
	}
}

// TestProbeReadCutsLikeTheStore checks probeRead against the read it
// stands for: a window's probes read over the whole window and cut at
// until must be the read of [window start, until] itself (the first
// reconSample members, and none exactly when that read counts none), for
// probes at random times, some equal, around the cut.
func TestProbeReadCutsLikeTheStore(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 6))
	w := 15 * time.Minute
	start := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	win := windowOf(start, w)
	ctx := context.Background()
	for round := range 300 {
		store := memory.New(memory.WithSweepInterval(0))
		key := state.Key{Tenant: "t", Identity: "role:x", Name: "recon:grid:probe:0"}
		b := new(state.Batch)
		n := rng.IntN(12)
		for range n {
			// Whole seconds, as CloudTrail writes them, so that probes
			// share times and fall exactly on the cut.
			at := start.Add(time.Duration(rng.IntN(int(w/time.Second))) * time.Second)
			name := []string{"GetCallerIdentity", "GetAccessKeyInfo", "GetUser"}[rng.IntN(3)]
			m := name + "@" + at.Format(time.RFC3339Nano) + []string{"", " asn:16509", " private"}[rng.IntN(3)]
			b.WindowAdd(key, m, at, win.Span(), time.Hour)
		}
		until := start.Add(time.Duration(rng.IntN(int(w/time.Second))) * time.Second)
		if rng.IntN(4) == 0 {
			until = win.Span().To
		}
		cut := b.WindowRead(key, state.Span{From: win.Start, To: until}, reconSample)
		g := probeRead{win: win, until: until, read: b.WindowRead(key, win.Span(), reconSample)}
		if err := store.Exec(ctx, b); err != nil {
			t.Fatal(err)
		}
		want, err := cut.Get()
		if err != nil {
			t.Fatal(err)
		}
		got, err := g.probes(nil)
		if err != nil {
			t.Fatal(err)
		}
		var wantCalls []reconCall
		for _, m := range want.Members {
			c, err := parseReconCall(m)
			if err != nil {
				t.Fatal(err)
			}
			wantCalls = append(wantCalls, c)
		}
		if (want.Count == 0) != (len(got) == 0) || !slices.Equal(got, wantCalls) {
			t.Fatalf("round %d (%d probes, until %v): the cut whole-window read gave %v, the read of the cut span %d probes %v",
				round, n, until, got, want.Count, wantCalls)
		}
		store.Close()
	}
}
