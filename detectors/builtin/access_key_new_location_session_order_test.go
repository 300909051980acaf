package builtin_test

import (
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// TestAccessKeyNewLocationSessionMoveIsOneIncident is the difference
// internal/consistency's realistic-corpus test found between 1 and 4
// concurrent streams: a person's session key used from two countries a
// minute apart. Whichever of the two records is scored first is the
// session's known place, and the other one raises; the incident must not
// depend on which that was (the design's "order-free": a pattern completed
// by a later record raises in the same incident). Before the fix the
// incident named the place the second-scored record came from.
func TestAccessKeyNewLocationSessionMoveIsOneIncident(t *testing.T) {
	office := personCall(t0, "203.0.113.10")                // US
	abroad := personCall(t0.Add(time.Minute), "192.0.2.66") // RU, a minute later
	incidents := func(order ...dt.Rec) []string {
		h := dt.New(t, newLocation(t, geoSettings()))
		var out []string
		for _, f := range dt.Only(builtin.AccessKeyNewLocationID, h.Stream(order...)) {
			out = append(out, f.Incident+" @"+f.Severity.String())
		}
		slices.Sort(out)
		return out
	}
	inOrder := incidents(office, abroad)
	if len(inOrder) != 1 {
		t.Fatalf("in event-time order: incidents %v, want 1 (the session key moved abroad)", inOrder)
	}
	if reversed := incidents(abroad, office); !slices.Equal(reversed, inOrder) {
		t.Errorf("the later record scored first: incidents %v, want %v (one move of one session key, whichever place was seen first)", reversed, inOrder)
	}
}
