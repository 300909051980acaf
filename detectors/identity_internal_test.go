package detectors

import (
	"math"
	"strconv"
	"testing"
	"time"
)

// TestAppendUnixNanoIsAppendInt: the event identity's time is the decimal
// of UnixNano for whole seconds, fractions, the epoch, times before it and
// the edges of what UnixNano can hold.
func TestAppendUnixNanoIsAppendInt(t *testing.T) {
	times := []time.Time{
		time.Unix(0, 0), time.Unix(1, 0), time.Unix(-1, 0), time.Unix(9, 0), time.Unix(10, 0),
		time.Unix(1767225600, 0), time.Unix(1767225600, 1), time.Unix(1767225600, 999999999),
		time.Unix(maxUnixNanoSecond, 0), time.Unix(maxUnixNanoSecond, 854775807), time.Unix(maxUnixNanoSecond+1, 0),
		time.Unix(0, math.MinInt64), time.Date(2026, 12, 6, 9, 0, 0, 0, time.FixedZone("x", 3600)),
	}
	for sec := int64(1); sec < 1e11; sec = sec*7 + 3 {
		times = append(times, time.Unix(sec, 0), time.Unix(-sec, 0))
	}
	for _, tm := range times {
		if got, want := string(appendUnixNano([]byte("p:"), tm)), "p:"+strconv.FormatInt(tm.UnixNano(), 10); got != want {
			t.Errorf("appendUnixNano(%v) = %q, want %q", tm, got, want)
		}
	}
}
