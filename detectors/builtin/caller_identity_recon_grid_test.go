package builtin_test

import (
	"context"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/racetest"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// caller-identity-recon keeps its pairing windows in two sets per kind and
// principal, one per grid of alternating windows (see reconGrid). These
// scenarios hold the rule that makes that safe: a window's read sees its
// own calls only, never those of the grid's neighbouring windows that
// share its set, whichever arrives first.

func TestCallerIdentityReconGridWindows(t *testing.T) { reconGridWindows(t, newMemory) }

func TestCallerIdentityReconGridWindowsOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	reconGridWindows(t, func(tb testing.TB) state.Store { return open(tb) })
}

func reconGridWindows(t *testing.T, newStore newStoreFunc) {
	// Windows of 15m: 09:45 and 10:15 share the probe grid's set, 10:00
	// and 10:30 the other.
	edge := time.Date(2024, 8, 1, 10, 0, 0, 0, time.UTC)
	const arn = "arn:aws:iam::111122223333:user/erin"
	as := func(r dt.Rec) dt.Rec {
		return r.With("userIdentity.arn", arn).With("userIdentity.userName", "erin")
	}
	for _, tc := range []struct {
		name   string
		stream []dt.Rec
		want   []string
	}{
		// Fires: two pairs, each across a window edge, their probes in the
		// 09:45 and 10:15 windows of one grid: two incidents, one per probe
		// window, in any order.
		{"a pair across each of two edges", []dt.Rec{
			as(gci(keyA, edge.Add(-10*time.Second))), as(keyCall(keyA, "s3:ListBuckets", edge.Add(10*time.Second))),
			as(gci(keyA, edge.Add(29*time.Minute+50*time.Second))), as(keyCall(keyA, "iam:ListUsers", edge.Add(30*time.Minute+5*time.Second))),
		}, []string{arn + " 2024-08-01T09:45:00Z", arn + " 2024-08-01T10:15:00Z"}},
		// Quiet twin: the probe at 09:59:50 and a listing at 10:15:10,
		// 15m20s apart. The listing's reach [10:00:10, 10:30:10] meets the
		// 10:15 window of the probe's grid set, which holds the 09:59:50
		// probe: only the cut to the window keeps it out.
		{"a probe and a listing just over the window apart, in one grid's windows", []dt.Rec{
			as(gci(keyA, edge.Add(-10*time.Second))), as(keyCall(keyA, "s3:ListBuckets", edge.Add(15*time.Minute+10*time.Second))),
			as(keyCall(keyA, "secretsmanager:ListSecrets", edge.Add(15*time.Minute+20*time.Second))),
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, order := range []struct {
				name    string
				batches [][]dt.Rec
			}{
				{"in time order, one batch", [][]dt.Rec{tc.stream}},
				{"newest first, one batch", func() [][]dt.Rec {
					rev := slices.Clone(tc.stream)
					slices.Reverse(rev)
					return [][]dt.Rec{rev}
				}()},
				{"newest first, a record a batch", func() [][]dt.Rec {
					var out [][]dt.Rec
					for _, r := range slices.Backward(tc.stream) {
						out = append(out, []dt.Rec{r})
					}
					return out
				}()},
			} {
				h := dt.NewWithStore(t, newStore(t), newRecon(t, ""))
				var got []string
				for _, b := range order.batches {
					got = append(got, reconIncidents(h.Score(b...))...)
				}
				slices.Sort(got)
				got = slices.Compact(got)
				if !slices.Equal(got, tc.want) {
					t.Errorf("rule: a window's read sees its own calls, not its grid's other windows'; %s: incidents %v, want %v",
						order.name, got, tc.want)
				}
			}
		})
	}
}

// reconKeys is a store that notes the adds to caller-identity-recon's
// pairing sets, by identity and key.
type reconKeys struct {
	*memory.Store
	mu   sync.Mutex
	adds map[string]map[state.Key][]time.Time // event times added, by identity and key
}

func (s *reconKeys) Exec(ctx context.Context, b *state.Batch) error {
	s.mu.Lock()
	for _, op := range b.Ops() {
		if o, ok := op.(*state.WindowAddOp); ok && strings.HasPrefix(o.Key.Name, "recon:") {
			if s.adds[o.Key.Identity] == nil {
				s.adds[o.Key.Identity] = map[state.Key][]time.Time{}
			}
			s.adds[o.Key.Identity][o.Key] = append(s.adds[o.Key.Identity][o.Key], o.At)
		}
	}
	s.mu.Unlock()
	return s.Store.Exec(ctx, b)
}

// held counts the members key holds now, whatever their time.
func (s *reconKeys) held(t *testing.T, key state.Key) int {
	b := &state.Batch{}
	all := state.Span{From: time.Unix(0, math.MinInt64).UTC(), To: time.Unix(0, math.MaxInt64).UTC()}
	f := b.WindowRead(key, all, 0)
	if err := s.Store.Exec(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	w, err := f.Get()
	if err != nil {
		t.Fatal(err)
	}
	return w.Count
}

// TestCallerIdentityReconStateBounded: over the realistic month, every
// principal's pairing windows live in its six grid sets (two per kind),
// however long it is active, and each set holds no more members than the
// calls added to it within its TTL of event time before its last add: the
// busiest principal's state is bounded by the window, not by the month.
func TestCallerIdentityReconStateBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a month")
	}
	racetest.SkipLong(t)
	c := realcorpus.Generate(realcorpus.Options{Seed: 1})
	store := &reconKeys{Store: memory.New(memory.WithSweepInterval(0)), adds: map[string]map[state.Key][]time.Time{}}
	defer store.Close()
	h := dt.NewWithStore(t, store, dt.Must(builtin.NewCallerIdentityRecon(detectors.Config{})))
	const batch = 512
	for off := 0; off < len(c.Records); off += batch {
		raws := make([][]byte, 0, batch)
		for _, r := range c.Records[off:min(off+batch, len(c.Records))] {
			raws = append(raws, r.JSON)
		}
		h.ScoreRaw(raws...)
	}
	if len(store.adds) == 0 {
		t.Fatal("the month made no probes or discovery calls")
	}
	busiest, most := "", 0
	for _, id := range slices.Sorted(maps.Keys(store.adds)) {
		n := 0
		for _, ats := range store.adds[id] {
			n += len(ats)
		}
		if n > most {
			busiest, most = id, n
		}
		if k := len(store.adds[id]); k > 6 {
			t.Errorf("%s wrote %d pairing sets over the month, want at most 6 (two per kind)", id, k)
		}
	}
	// Each add drops the members older than its At less the TTL
	// (2×Window + lateness), and every member is one call.
	opts := builtin.DefaultCallerIdentityReconOptions()
	ttl := 2*opts.Window + opts.AllowedLateness
	held, bound := 0, 0
	for key, ats := range store.adds[busiest] {
		cutoff := ats[len(ats)-1].Add(-ttl)
		for _, at := range ats {
			if !at.Before(cutoff) {
				bound++
			}
		}
		held += store.held(t, key)
	}
	t.Logf("%s: %d pairing sets, %d members held at the end; %d adds in the month", busiest, len(store.adds[busiest]), held, most)
	if most < 100 {
		t.Errorf("the busiest principal %s made %d pairing adds in the month; the test wants a busy one", busiest, most)
	}
	if held == 0 || held > bound {
		t.Errorf("%s holds %d members in its pairing sets at the end of the month, want 1 to %d (the adds within %v of each set's last)",
			busiest, held, bound, ttl)
	}
}
