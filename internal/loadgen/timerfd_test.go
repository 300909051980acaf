package loadgen_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/loadgen"
)

// TestPreciseClockNeverWakesEarly: SleepUntil returns at or after its
// deadline (an event is never sent before it is due), at once for a
// deadline already past, and with the context's error when it is cancelled.
// It asserts order, not speed.
func TestPreciseClockNeverWakesEarly(t *testing.T) {
	clock, release := loadgen.PreciseClock()
	defer func() {
		if err := release(); err != nil {
			t.Error(err)
		}
	}()
	for _, d := range []time.Duration{-time.Millisecond, 0, 50 * time.Microsecond, 300 * time.Microsecond, 2 * time.Millisecond} {
		deadline := clock.Now().Add(d)
		if err := clock.SleepUntil(t.Context(), deadline); err != nil {
			t.Fatalf("SleepUntil(now%+v) = %v", d, err)
		}
		if now := clock.Now(); now.Before(deadline) {
			t.Errorf("SleepUntil(now%+v) returned %v before its deadline", d, deadline.Sub(now))
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := clock.SleepUntil(ctx, clock.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Errorf("SleepUntil with a cancelled context = %v; want context.Canceled", err)
	}
}
