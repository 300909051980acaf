package state_test

import (
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// TestBucketStartIsNanos holds BucketStart to the nanosecond arithmetic
// it shortcuts, Time value for Time value (==: the same instant,
// representation and location): times either side of the epoch and of
// bucket edges, with and without nanoseconds, in other locations and
// with a monotonic reading, widths of whole seconds and not, and times
// whose nanoseconds an int64 does not hold.
func TestBucketStartIsNanos(t *testing.T) {
	elsewhere := time.FixedZone("elsewhere", -7*3600)
	times := []time.Time{
		time.Date(2026, 3, 1, 12, 34, 56, 0, time.UTC),
		time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 1, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 3, 1, 12, 34, 56, 789, elsewhere),
		time.Unix(0, 0), time.Unix(-1, 0), time.Unix(-1, 999999999), time.Unix(-3600, 0), time.Unix(-3601, 5),
		time.Unix(-86400*365*100, 0), time.Date(1700, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC), time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), {},
		time.Now(),
	}
	widths := []time.Duration{time.Second, time.Minute, 5 * time.Minute, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
		time.Nanosecond, 1500 * time.Millisecond, 3 * time.Millisecond, 1<<62 + 1}
	for _, at := range times {
		for _, w := range widths {
			if got, want := state.BucketStart(at, w), state.BucketStartNanos(at, w); got != want {
				t.Errorf("BucketStart(%v, %v) = %v (%#v), want %v (%#v)", at, w, got, got, want, want)
			}
		}
	}
}

// FuzzBucketStart holds BucketStart to the nanosecond arithmetic on times
// and widths the fuzzer picks (see TestBucketStartIsNanos).
func FuzzBucketStart(f *testing.F) {
	f.Add(int64(1772368496), int64(0), int64(time.Hour))
	f.Add(int64(-1), int64(999999999), int64(time.Minute))
	f.Add(int64(9e9), int64(1), int64(24*time.Hour))
	f.Add(int64(1772368496), int64(5), int64(1500*time.Millisecond))
	f.Fuzz(func(t *testing.T, sec, nsec, w int64) {
		if w <= 0 {
			return // BucketStart's contract: a positive width
		}
		at := time.Unix(sec, nsec)
		if got, want := state.BucketStart(at, time.Duration(w)), state.BucketStartNanos(at, time.Duration(w)); got != want {
			t.Errorf("BucketStart(%v, %v) = %#v, want %#v", at, time.Duration(w), got, want)
		}
	})
}
