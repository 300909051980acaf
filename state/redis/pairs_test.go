package redis_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
)

// TestWindowPairHalvesAreWindows: on both layouts a window pair's halves
// are the windowed sets state.PairHalf names, so a replica that writes
// them with WindowAddReads (a version from before pairs, during a
// rolling upgrade) and one that writes the pair read each other's members.
func TestWindowPairHalvesAreWindows(t *testing.T) {
	srv := redistest.StartServer(t)
	for _, layout := range []string{"record", "keys"} {
		t.Run(layout, func(t *testing.T) {
			s := newStore(t, srv.URL()+"?layout="+layout)
			ctx := context.Background()
			k := state.Key{Identity: "principal:" + layout, Name: "enum:grid:window"}
			at := time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC)
			sp := state.Span{From: at.Add(-time.Hour), To: at.Add(time.Hour)}
			var old state.Batch
			for h := range 2 {
				old.WindowAddRead(state.PairHalf(k, h), "old", at, sp, 5, time.Hour)
			}
			if err := s.Exec(ctx, &old); err != nil {
				t.Fatal(err)
			}
			var b state.Batch
			f := b.WindowPairAddRead(k, [2]string{"new0", "new1"}, at.Add(time.Minute), [2]state.Span{sp, sp}, 5, time.Hour)
			if err := s.Exec(ctx, &b); err != nil {
				t.Fatal(err)
			}
			got, err := f.Get()
			if err != nil {
				t.Fatal(err)
			}
			for h, want := range [2][]string{{"old", "new0"}, {"old", "new1"}} {
				if !slices.Equal(got[h].Members, want) {
					t.Errorf("half %d after WindowAddReads of %s = %+v, want members %v", h, state.PairHalf(k, h).Name, got[h], want)
				}
			}
			var r state.Batch
			read := r.WindowRead(state.PairHalf(k, 1), sp, 5)
			if err := s.Exec(ctx, &r); err != nil {
				t.Fatal(err)
			}
			if w, err := read.Get(); err != nil || !slices.Equal(w.Members, []string{"old", "new1"}) {
				t.Errorf("WindowRead of %s after the pair = %+v, %v, want members [old new1]", state.PairHalf(k, 1).Name, w, err)
			}
		})
	}
}
