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

// TestWindowsAroundMatchesTimes holds windowsAround, which works in Unix
// nanoseconds, equal to the windows and cuts computed with times, as it
// was written first: for calls at random instants (whole seconds, and
// with nanoseconds, before and after 1970) and aligned ones.
func TestWindowsAroundMatchesTimes(t *testing.T) {
	want := func(span state.Span, w time.Duration) reconWindows {
		var out reconWindows
		for win := windowOf(span.From, w); !win.Start.After(span.To) && out.n < reconMaxWindows; win = windowOf(win.End(), w) {
			from, to := span.From, span.To
			if win.Start.After(from) {
				from = win.Start
			}
			if end := win.Span().To; end.Before(to) {
				to = end
			}
			out.wins[out.n] = win
			out.spans[out.n] = state.Span{From: from, To: to}
			out.n++
		}
		return out
	}
	rng := rand.New(rand.NewPCG(6, 12))
	for i := range 20000 {
		w := []time.Duration{time.Second, 15 * time.Minute, 7 * time.Minute, time.Hour}[i%4]
		at := time.Unix(rng.Int64N(4e9)-1e9, 0).UTC()
		switch i % 3 {
		case 1:
			at = at.Add(time.Duration(rng.Int64N(1e9)))
		case 2:
			at = state.BucketStart(at, w)
		}
		span := state.Span{From: at.Add(-w), To: at.Add(w)}
		got, exp := windowsAround(span, w), want(span, w)
		same := got.n == exp.n
		for j := 0; same && j < got.n; j++ {
			same = got.wins[j].Start.Equal(exp.wins[j].Start) && got.wins[j].Width == exp.wins[j].Width &&
				got.spans[j].From.Equal(exp.spans[j].From) && got.spans[j].To.Equal(exp.spans[j].To)
		}
		if !same {
			t.Fatalf("windowsAround(%v, %v) = %+v, want %+v", span, w, got, exp)
		}
	}
}

// TestAppendStampIsFormat holds appendStamp equal to formatting with
// time.RFC3339Nano: whole seconds, fractions, other zones, days around
// the epoch and the ends of four-digit years.
func TestAppendStampIsFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	times := []time.Time{time.Unix(0, 0), time.Unix(-1, 0), time.Unix(maxStampSecond-1, 0), time.Unix(maxStampSecond, 0),
		time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(2026, 11, 3, 0, 0, 0, 0, time.FixedZone("X", 5400)), {}}
	for i := range 50000 {
		at := time.Unix(rng.Int64N(maxStampSecond+1e9)-1e9, 0)
		if i%5 == 0 {
			at = at.Add(time.Duration(rng.Int64N(1e9)))
		}
		if i%7 == 0 {
			at = at.In(time.FixedZone("Y", -3600*int(rng.Int64N(12))))
		}
		times = append(times, at)
	}
	for _, at := range times {
		if got, want := string(appendStamp([]byte("x@"), at)), "x@"+at.UTC().Format(time.RFC3339Nano); got != want {
			t.Fatalf("appendStamp(%v) = %q, want %q", at, got, want)
		}
	}
}
