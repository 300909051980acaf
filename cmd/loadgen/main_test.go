package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/racetest"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
)

func TestCheckKeepsLoadOnLoopbackAndBounded(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    options
		ok   bool
	}{
		{"spawned server", options{spawn: "bin/iamsentry", events: 10}, true},
		{"loopback v4", options{addr: "127.0.0.2:50051", events: 10}, true},
		{"loopback v6", options{addr: "[::1]:50051", events: 10}, true},
		{"localhost", options{addr: "localhost:50051", events: 10}, true},
		{"private address", options{addr: "10.0.0.1:50051", events: 10}, false},
		{"public name", options{addr: "example.com:50051", events: 10}, false},
		{"no target", options{events: 10}, false},
		{"duration without rate", options{spawn: "x", duration: time.Second}, false},
		{"rate and duration", options{spawn: "x", rate: 1000, duration: 10 * time.Second}, true},
		{"too long a run", options{spawn: "x", rate: 20000, duration: time.Hour}, false},
	} {
		err := tc.o.check()
		if (err == nil) != tc.ok {
			t.Errorf("%s: check() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	o := options{spawn: "x", rate: 1000, duration: 10 * time.Second}
	if o.check(); o.events != 10000 {
		t.Errorf("--rate 1000 --duration 10s offers %d events, want 10000", o.events)
	}
}

// TestCorpusFlag: --corpus picks what is sent; the realistic month is sent
// whole unless --events cuts it, and an unknown corpus is refused.
func TestCorpusFlag(t *testing.T) {
	for _, tc := range []struct {
		name       string
		o          options
		ok         bool
		wantEvents int
	}{
		{"default is generated", options{spawn: "x", events: 10}, true, 10},
		{"realistic, whole month", options{spawn: "x", corpus: "realistic", events: 100000}, true, 0},
		{"realistic cut by --events", options{spawn: "x", corpus: "realistic", events: 500, eventsSet: true}, true, 500},
		{"realistic open loop, whole month", options{spawn: "x", corpus: "realistic", events: 100000, rate: 1000}, true, 0},
		{"realistic open loop for a duration", options{spawn: "x", corpus: "realistic", rate: 1000, duration: 2 * time.Second}, true, 2000},
		{"unknown corpus", options{spawn: "x", corpus: "real", events: 10}, false, 10},
	} {
		err := tc.o.check()
		if (err == nil) != tc.ok || (tc.ok && tc.o.events != tc.wantEvents) {
			t.Errorf("%s: check() = %v with events %d; want ok=%v, events %d", tc.name, err, tc.o.events, tc.ok, tc.wantEvents)
		}
	}
}

// TestLoadCorpusRealistic: --corpus realistic --events N sends the month's
// first N records, not generated ones, followed by any files given.
func TestLoadCorpusRealistic(t *testing.T) {
	if testing.Short() {
		t.Skip("generates the realistic month (seconds)")
	}
	racetest.SkipLong(t)
	o := options{spawn: "x", corpus: "realistic", events: 300, eventsSet: true, seed: 1}
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "one.json")
	if err := os.WriteFile(file, []byte(`{"eventID":"extra","eventTime":"2025-04-01T00:00:00Z"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := loadCorpus(o, []string{file})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 301 {
		t.Fatalf("got %d records, want 300 of the month and 1 from the file", len(recs))
	}
	if !bytes.Contains(recs[0], []byte(realcorpus.Account)) {
		t.Errorf("first record is not the realistic month's:\n%s", recs[0])
	}
	var prev time.Time
	for i, raw := range recs[:300] {
		var r struct{ EventTime time.Time }
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if r.EventTime.Before(prev) {
			t.Fatalf("record %d at %s comes after one at %s: not the month's start in event-time order", i, r.EventTime, prev)
		}
		prev = r.EventTime
	}
	if !bytes.Contains(recs[300], []byte(`"extra"`)) {
		t.Errorf("last record is not the file's:\n%s", recs[300])
	}
}
