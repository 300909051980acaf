package builtin

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// TestEnumWindowsInIntegers checks that the windows worked out in
// integers are, value for value, the ones time arithmetic gives (the
// bucket start of t and the one before it, each 2w long), and that the
// grid and tag observe takes from the index are those of each window's
// start, before 1970 and after, on and off the window edges.
func TestEnumWindowsInIntegers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 13))
	for _, w := range []time.Duration{time.Minute, 10 * time.Minute, 6 * time.Hour, 7 * time.Second} {
		g := newEnumGrid("test", w, 15*time.Minute)
		for i := range 2000 {
			ns := rng.Int64N(int64(200*365*24*time.Hour)) - int64(100*365*24*time.Hour)
			if i%4 == 0 {
				ns -= ns % int64(w) // on an edge
			}
			at := time.Unix(0, ns).UTC()
			start := state.BucketStart(at, w)
			want := [2]state.Span{
				{From: start.Add(-w), To: start.Add(-w).Add(2*w - time.Nanosecond)},
				{From: start, To: start.Add(2*w - time.Nanosecond)},
			}
			k := alignedIndex(at, g.width)
			got := enumWindowsAt(k, g.width)
			if got != want || enumWindows(at, w) != want {
				t.Fatalf("w=%v t=%v: windows %v, want %v", w, at, got, want)
			}
			for j := range got {
				wg, wt := g.window(want[j].From)
				if gg, gt := g.indexed(k - 1 + int64(j)); gg != wg || gt != wt {
					t.Fatalf("w=%v t=%v window %d: grid %d tag %d, want %d %d", w, at, j, gg, gt, wg, wt)
				}
			}
		}
	}
}

// TestEnumWindowsRemembered checks that a grid's remembered windows are
// enumWindowsAt's for every index, whatever order the indices come in and
// however many goroutines ask at once: slots that collide are replaced,
// never answered for another index.
func TestEnumWindowsRemembered(t *testing.T) {
	for _, w := range []time.Duration{time.Minute, 6 * time.Hour, 7 * time.Second} {
		g := newEnumGrid("test", w, 15*time.Minute)
		var wg sync.WaitGroup
		errs := make(chan string, 4)
		for worker := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(worker), 17))
				base := rng.Int64N(1<<40) - 1<<39
				for range 5000 {
					// Nearby indices, as a batch's principals read, and
					// now and then a far one.
					k := base + rng.Int64N(24)
					if rng.IntN(50) == 0 {
						k = rng.Int64N(1<<40) - 1<<39
					}
					if got, want := *g.windowsAt(k), enumWindowsAt(k, g.width); got != want {
						errs <- fmt.Sprintf("w=%v k=%d: remembered %v, want %v", w, k, got, want)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}
	}
}
