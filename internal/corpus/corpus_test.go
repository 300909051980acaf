package corpus

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func TestGenerateIsDeterministicSortedAndUnique(t *testing.T) {
	a := Generate(Options{Seed: 7})
	b := Generate(Options{Seed: 7})
	if len(a) < 1000 || len(a) != len(b) {
		t.Fatalf("sizes %d and %d; want the same, at least 1000", len(a), len(b))
	}
	ids := map[string]bool{}
	for i := range a {
		if string(a[i].JSON) != string(b[i].JSON) {
			t.Fatalf("record %d differs between runs with one seed", i)
		}
		if i > 0 && a[i].Time.Before(a[i-1].Time) {
			t.Fatalf("record %d out of event-time order", i)
		}
		var r struct {
			EventID   string    `json:"eventID"`
			EventTime time.Time `json:"eventTime"`
			UserAgent string    `json:"userAgent"`
		}
		if err := json.Unmarshal(a[i].JSON, &r); err != nil {
			t.Fatal(err)
		}
		if ids[r.EventID] {
			t.Fatalf("event id %s repeated", r.EventID)
		}
		ids[r.EventID] = true
		if !r.EventTime.Equal(a[i].Time) {
			t.Fatalf("record %d: Time %v, eventTime %v", i, a[i].Time, r.EventTime)
		}
	}
	if c := Generate(Options{Seed: 8}); slices.EqualFunc(a, c, func(x, y Record) bool { return string(x.JSON) == string(y.JSON) }) {
		t.Error("different seeds gave the same corpus")
	}
}

func TestShuffleStaysWithinLateness(t *testing.T) {
	recs := Generate(Options{Seed: 1, Days: 2})
	const lateness = 15 * time.Minute
	sh := Shuffle(recs, lateness, 3)
	if len(sh) != len(recs) {
		t.Fatal("shuffle lost records")
	}
	moved := 0
	latest := time.Time{}
	for i, r := range sh {
		if r.Time.Before(latest.Add(-lateness)) {
			t.Fatalf("record %d arrives more than %v after a later event (%v vs %v)", i, lateness, r.Time, latest)
		}
		if r.Time.After(latest) {
			latest = r.Time
		}
		if string(r.JSON) != string(recs[i].JSON) {
			moved++
		}
	}
	if moved == 0 {
		t.Error("shuffle moved nothing")
	}
}
