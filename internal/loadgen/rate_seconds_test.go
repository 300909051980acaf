package loadgen_test

import (
	"slices"
	"testing"

	"github.com/iamsentry/iamsentry/internal/loadgen"
)

// TestRateShowsAStallInItsSecond: a 500 ms stall from 1.8 s to 2.3 s of a
// three-second run at 100 events/s. The run-wide p99 cannot tell which
// second it came from; the per-second view puts the 20 events due in
// second 1 (latencies 310–500 ms) and the 30 due in second 2 (10–300 ms)
// where they were due, counts the 20 answers the stall moved from second 1
// into second 2, and leaves second 0 clean.
func TestRateShowsAStallInItsSecond(t *testing.T) {
	w := newWorld(ms(1800), ms(2300))
	rep := runSimulated(t, w, loadgen.RateConfig{Rate: 100, Events: 300, Streams: 1, Batch: 100})
	want := []loadgen.RateSecond{
		{Due: 100, Answered: 100},
		{Due: 100, Answered: 80, P99: ms(490), Max: ms(500)},
		{Due: 100, Answered: 120, P99: ms(290), Max: ms(300)},
	}
	if !slices.Equal(rep.Seconds, want) {
		t.Errorf("seconds:\n got %+v\nwant %+v", rep.Seconds, want)
	}
}

// TestRateSecondsAddUpToTheRun: over several streams, every event is due
// in exactly one second and answered in exactly one.
func TestRateSecondsAddUpToTheRun(t *testing.T) {
	w := newWorld(ms(300), ms(900))
	rep := runSimulated(t, w, loadgen.RateConfig{Rate: 250, Events: 600, Streams: 3, Batch: 7})
	var due, answered int
	var worst = rep.Seconds[0].Max
	for _, s := range rep.Seconds {
		due += s.Due
		answered += s.Answered
		worst = max(worst, s.Max)
	}
	if due != 600 || answered != 600 || len(rep.Seconds) != 3 {
		t.Errorf("%d seconds, %d due, %d answered; want 3 seconds (the last event is due at 2.396 s), 600 and 600", len(rep.Seconds), due, answered)
	}
	if worst != rep.Percentile(100) {
		t.Errorf("worst per-second max %v; want the run's max %v", worst, rep.Percentile(100))
	}
}
