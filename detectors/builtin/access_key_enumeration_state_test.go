package builtin_test

import (
	"bytes"
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
	"github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/racetest"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// enumKeys is a store that notes the enumeration window sets each
// identity writes.
type enumKeys struct {
	*memory.Store
	mu   sync.Mutex
	keys map[string]map[state.Key]bool // by identity
	adds int
}

func (s *enumKeys) Exec(ctx context.Context, b *state.Batch) error {
	s.mu.Lock()
	for _, op := range b.Ops() {
		if o, ok := op.(*state.WindowPairAddReadOp); ok && strings.HasPrefix(o.Key.Name, "enum:") {
			if s.keys[o.Key.Identity] == nil {
				s.keys[o.Key.Identity] = map[state.Key]bool{}
			}
			s.keys[o.Key.Identity][o.Key] = true
			s.adds++
		}
	}
	s.mu.Unlock()
	return s.Store.Exec(ctx, b)
}

// held counts the members the sets of identity hold now, whatever their
// time. A pair has no read-only operation: a probe member is added to
// each half in 2000, long before the month, which trims nothing, and not
// counted.
func (s *enumKeys) held(t *testing.T, identity string) int {
	b := &state.Batch{}
	var fs []*state.Future[[2]state.Window]
	all := state.Span{From: time.Unix(0, math.MinInt64).UTC(), To: time.Unix(0, math.MaxInt64).UTC()}
	for k := range s.keys[identity] {
		fs = append(fs, b.WindowPairAddRead(k, [2]string{"probe", "probe"}, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), [2]state.Span{all, all}, 0, time.Hour))
	}
	if err := s.Store.Exec(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fs {
		w, err := f.Get()
		if err != nil {
			t.Fatal(err)
		}
		n += w[0].Count + w[1].Count - 2
	}
	return n
}

// TestAccessKeyEnumerationStateBounded: over the realistic month, every
// principal's enumeration windows live in its three window pairs (one
// per scale, a set per grid), however long it reads, and the learned CSPM scanner, the busiest
// reader, holds no more members than the reads of its widest windows: its
// state is bounded by the drip scale, not by the month.
func TestAccessKeyEnumerationStateBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a month")
	}
	racetest.SkipLong(t)
	c := realcorpus.Generate(realcorpus.Options{Seed: 1})
	store := &enumKeys{Store: memory.New(memory.WithSweepInterval(0)), keys: map[string]map[state.Key]bool{}}
	defer store.Close()
	h := detectortest.NewWithStore(t, store, detectortest.Must(builtin.NewAccessKeyEnumeration(detectors.Config{})))
	const batch = 512
	for off := 0; off < len(c.Records); off += batch {
		raws := make([][]byte, 0, batch)
		for _, r := range c.Records[off:min(off+batch, len(c.Records))] {
			raws = append(raws, r.JSON)
		}
		h.ScoreRaw(raws...)
	}
	if store.adds == 0 {
		t.Fatal("the month made no counted reads")
	}
	const scanner = "principal:arn:aws:iam::444455556666:user/cspm-scanner"
	if store.keys[scanner] == nil {
		t.Fatalf("the month has no reads by %s", scanner)
	}
	for _, id := range slices.Sorted(maps.Keys(store.keys)) {
		if n := len(store.keys[id]); n > 3 {
			t.Errorf("%s wrote %d enumeration window pairs over the month, want at most 3 (one per scale)", id, n)
		}
	}
	// Each add drops what is older than its set's TTL of event time (at
	// most 2×DripWindow + lateness), and every member is one read of one
	// window: the scanner holds at most six members per read it made in
	// the TTL before its last.
	opts := builtin.DefaultAccessKeyEnumerationOptions()
	ttl := 2*opts.DripWindow + opts.AllowedLateness
	var mine []time.Time
	for _, r := range c.Records {
		if bytes.Contains(r.JSON, []byte(`user/cspm-scanner"`)) {
			mine = append(mine, r.Time)
		}
	}
	recent := 0
	for _, at := range mine {
		if mine[len(mine)-1].Sub(at) <= ttl {
			recent++
		}
	}
	held := store.held(t, scanner)
	t.Logf("%s: %d enumeration window pairs, %d members held at the end; %d counted adds in the month",
		scanner, len(store.keys[scanner]), held, store.adds)
	if held == 0 || held > 6*recent {
		t.Errorf("%s holds %d members in its enumeration windows at the end of the month, want 1 to %d (six per read within %v of its last)",
			scanner, held, 6*recent, ttl)
	}
}
