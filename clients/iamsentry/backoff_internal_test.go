package iamsentry

import (
	"testing"
	"time"
)

// TestBackoffDelay checks what the client chooses to wait before each
// reconnection: base doubled per attempt, capped at max, and jittered
// within ±20 %, the same for every draw of the jitter.
func TestBackoffDelay(t *testing.T) {
	const base, ceiling = 20 * time.Millisecond, 160 * time.Millisecond
	for attempt := 1; attempt <= 10; attempt++ {
		want := min(base<<(attempt-1), ceiling)
		lo, hi := want*8/10, want*12/10
		var least, most time.Duration = hi + 1, 0
		for range 2000 {
			d := backoffDelay(base, ceiling, attempt)
			least, most = min(least, d), max(most, d)
		}
		if least < lo || most > hi {
			t.Errorf("attempt %d: delays within [%v, %v], want within [%v, %v] (%v ±20 %%)", attempt, least, most, lo, hi, want)
		}
		// 2000 draws of a uniform jitter leave no tenth of the band empty
		// but with odds far below one in a million.
		if spread := most - least; spread < (hi-lo)*8/10 {
			t.Errorf("attempt %d: delays spread over %v of the %v band: the jitter is not spreading clients", attempt, spread, hi-lo)
		}
	}
	if d := backoffDelay(time.Second, time.Second, 40); d > 1200*time.Millisecond {
		t.Errorf("attempt 40 with max 1s waits %v: the cap does not hold", d)
	}
}
