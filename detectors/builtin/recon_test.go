package builtin_test

import (
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// Helpers shared by the access-key-enumeration and caller-identity-recon
// tests. Records built here are generated (detectortest builders); real
// records come from testdata/ (see testdata/README.md).

// w0 is aligned to every default window (5 and 10 minutes).
var w0 = time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC)

const (
	keyA = "AKIAEXAMPLEALICE01" // alice's key, as dt.Base makes it
	keyB = "AKIAEXAMPLEBOB0001"
	keyS = "ASIAEXAMPLESESSION1"
)

func newMemory(t testing.TB) state.Store {
	s := memory.New()
	t.Cleanup(func() { s.Close() })
	return s
}

// keyCall is a generated successful call "service:Name" by access key ak
// (alice's identity otherwise) at event time at.
func keyCall(ak, action string, at time.Time) dt.Rec {
	svc, name, _ := strings.Cut(action, ":")
	return dt.Base(svc+".amazonaws.com", name, at).With("userIdentity.accessKeyId", ak)
}

// options returns a Config whose options are decoded from YAML the way the
// config file is: unknown keys are errors.
func options(src string) detectors.Config {
	return detectors.Config{Settings: &detectors.Settings{}, Options: func(v any) error {
		dec := yaml.NewDecoder(strings.NewReader(src))
		dec.KnownFields(true)
		if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return nil
	}}
}

func eventTime(r dt.Rec) time.Time {
	t, err := time.Parse(time.RFC3339, r["eventTime"].(string))
	if err != nil {
		panic(err)
	}
	return t
}

// sortedByTime returns recs in event-time order (stable).
func sortedByTime(recs []dt.Rec) []dt.Rec {
	out := slices.Clone(recs)
	slices.SortStableFunc(out, func(a, b dt.Rec) int { return eventTime(a).Compare(eventTime(b)) })
	return out
}

// deliver reorders recs as CloudTrail delivery may: each record arrives a
// random delay in [0, lateness] after its event time, and records are
// scored in arrival order. The seed makes the order repeatable.
func deliver(recs []dt.Rec, lateness time.Duration, seed uint64) []dt.Rec {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	type arrival struct {
		at time.Time
		r  dt.Rec
	}
	as := make([]arrival, len(recs))
	for i, r := range recs {
		as[i] = arrival{eventTime(r).Add(time.Duration(rng.Int64N(int64(lateness) + 1))), r}
	}
	slices.SortStableFunc(as, func(a, b arrival) int { return a.at.Compare(b.at) })
	out := make([]dt.Rec, len(as))
	for i, a := range as {
		out[i] = a.r
	}
	return out
}

// scoreInBatches scores recs in order, in micro-batches of 1–6 records
// (seeded), as the server would group a live stream.
func scoreInBatches(h *dt.Harness, recs []dt.Rec, seed uint64) []engine.Verdict {
	rng := rand.New(rand.NewPCG(seed, 0xba7c))
	var out []engine.Verdict
	for len(recs) > 0 {
		n := min(len(recs), 1+rng.IntN(6))
		out = append(out, h.Score(recs[:n]...)...)
		recs = recs[n:]
	}
	return out
}

// incidents names each finding of detector id by what makes it one
// incident: the access key and the window it was raised for.
func incidents(id string, vs []engine.Verdict) []string {
	var out []string
	for _, f := range dt.Only(id, vs) {
		out = append(out, f.AccessKeyID+" "+f.Evidence["window_start"])
	}
	slices.Sort(out)
	return out
}

// stratus reads a Stratus Red Team detonation log (a JSON array of records)
// from testdata/stratus, in event-time order, as raw records.
func stratus(t *testing.T, name string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "stratus", name))
	if err != nil {
		t.Fatal(err)
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := make([][]byte, len(recs))
	times := make([]time.Time, len(recs))
	for i, r := range recs {
		rec, err := cloudtrail.Parse(r, cloudtrail.Options{})
		if err != nil {
			t.Fatalf("%s record %d: %v", name, i, err)
		}
		out[i], times[i] = r, rec.EventTime
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return times[a].Compare(times[b]) })
	sorted := make([][]byte, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
	}
	return sorted
}

// streamRaw scores raw records one batch each, in order.
func streamRaw(h *dt.Harness, raws [][]byte) []engine.Verdict {
	var out []engine.Verdict
	for _, r := range raws {
		out = append(out, h.ScoreRaw(r)...)
	}
	return out
}

// pantherRecord parses a Panther case's event.
func pantherRecord(t *testing.T, c dt.PantherCase) *cloudtrail.Record {
	t.Helper()
	rec, err := cloudtrail.Parse(c.Event, cloudtrail.Options{})
	if err != nil {
		t.Fatalf("%s / %s: %v", c.RuleID, c.TestName, err)
	}
	return rec
}

// scored drops the verdicts of replayed events: the engine answers a replay
// with the original findings (OutcomeDuplicate), which is not a new alert.
func scored(vs []engine.Verdict) []engine.Verdict {
	return slices.DeleteFunc(slices.Clone(vs), func(v engine.Verdict) bool { return v.Outcome == engine.OutcomeDuplicate })
}

// withEventID gives a Panther fixture that has no eventID (Panther's tests
// omit it; the engine rejects a record without one) a fresh id, in memory.
func withEventID(t *testing.T, c dt.PantherCase) dt.PantherCase {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(c.Event, &m); err != nil {
		t.Fatal(err)
	}
	if id, _ := m["eventID"].(string); id == "" {
		m["eventID"] = dt.FreshID()
	}
	c.Event = dt.Rec(m).JSON()
	return c
}
