package main

import (
	"strings"
	"testing"
)

// TestReportShowsEachSecond: an open-loop report lists the run second by
// second, so a one-second burst is visible next to the run-wide p99.
func TestReportShowsEachSecond(t *testing.T) {
	var b strings.Builder
	r := result{Events: 10000, OfferedRate: 5000, State: "redis", BySecond: []second{
		{Due: 5000, Answered: 5000, P50Millis: 1.2, P99Millis: 4.5, MaxMillis: 6},
		{Due: 5000, Answered: 4100, P50Millis: 1.3, P99Millis: 180.25, MaxMillis: 210},
	}}
	if err := report(&b, r, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  0   5000      5000     1.2     4.5     6.0",
		"  1   5000      4100     1.3   180.2   210.0",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks the row %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	r.OfferedRate = 0 // a closed-loop run has no schedule
	r.BySecond = nil
	if err := report(&b, r, false); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "per second") {
		t.Errorf("a closed-loop report shows seconds:\n%s", b.String())
	}
}
