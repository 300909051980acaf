package builtin_test

import (
	"cmp"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// Helpers shared by the scenario tests of the baseline detectors. Every
// stream here is generated; addresses come from documentation ranges and a
// fake GeoIP table, because the shared data sets anonymise IPs.

// newStoreFunc builds the state backend a scenario runs on, so the same
// scenarios can run on every backend.
type newStoreFunc func(t testing.TB) state.Store

func memoryStore(t testing.TB) state.Store {
	s := memory.New()
	t.Cleanup(func() { s.Close() })
	return s
}

// fakeGeo is a GeoLookup over a table of prefixes.
type fakeGeo map[string]detectors.GeoLocation

func (g fakeGeo) Lookup(a netip.Addr) (detectors.GeoLocation, bool) {
	best, found, bits := detectors.GeoLocation{}, false, -1
	for p, loc := range g {
		pp := netip.MustParsePrefix(p)
		if pp.Contains(a) && pp.Bits() > bits {
			best, found, bits = loc, true, pp.Bits()
		}
	}
	return best, found
}

// want is one finding a scenario expects: on which event, at which severity.
type want struct {
	event string
	sev   detectors.Severity
}

// checkFindings asserts that the findings of detector id in a stream are
// exactly ws.
func checkFindings(t *testing.T, id string, h *dt.Harness, stream []dt.Rec, ws ...want) []detectors.Finding {
	t.Helper()
	fs := dt.Only(id, h.Stream(stream...))
	var got, exp []want
	for _, f := range fs {
		got = append(got, want{f.EventID, f.Severity})
	}
	exp = append(exp, ws...)
	sortWants(got)
	sortWants(exp)
	if !slices.Equal(got, exp) {
		t.Errorf("findings %v, want %v", got, exp)
		for _, f := range fs {
			t.Logf("  %s %s: %s", f.EventID, f.Severity, f.Explanation)
		}
	}
	return fs
}

func sortWants(ws []want) {
	slices.SortFunc(ws, func(a, b want) int { return cmp.Compare(a.event, b.event) })
}

// shuffleWithin returns stream in a delivery order in which each record
// arrives up to lateness after its event time, as CloudTrail delivers:
// every record gets a random delay and the stream is sorted by arrival.
func shuffleWithin(stream []dt.Rec, lateness time.Duration, seed uint64) []dt.Rec {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	type arrival struct {
		at  time.Time
		rec dt.Rec
	}
	as := make([]arrival, len(stream))
	for i, r := range stream {
		at, err := time.Parse(time.RFC3339, r["eventTime"].(string))
		if err != nil {
			panic(err)
		}
		as[i] = arrival{at.Add(time.Duration(rng.Int64N(int64(lateness)))), r}
	}
	slices.SortStableFunc(as, func(a, b arrival) int { return a.at.Compare(b.at) })
	out := make([]dt.Rec, len(as))
	for i, a := range as {
		out[i] = a.rec
	}
	return out
}

// day is the start of the n-th day of a scenario.
func day(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }

// readMark reads a mark straight from a store.
func readMark(t *testing.T, s state.Store, k state.Key) state.Mark {
	t.Helper()
	var b state.Batch
	f := b.ReadMark(k)
	if err := s.Exec(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	m, err := f.Get()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sortByTime orders a generated stream by event time, stably.
func sortByTime(stream []dt.Rec) []dt.Rec {
	out := slices.Clone(stream)
	slices.SortStableFunc(out, func(a, b dt.Rec) int {
		return cmp.Compare(a["eventTime"].(string), b["eventTime"].(string))
	})
	return out
}

// unjoin returns the errors joined in err, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
