package builtin_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/racetest"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpustest"
	"github.com/iamsentry/iamsentry/state"
)

// TestInterestsHoldEveryActedOnEvent observes the realistic month and
// every attack recording in testdata (and two generated password policy
// changes) with every detector, as the engine
// did before it called only Registry.Observers, and fails when a detector
// returns an evaluation or queues an operation for an event of a call its
// Interests leave out (detectors.Selective): the engine would no longer
// call it for that event, and its finding would be lost.
func TestInterestsHoldEveryActedOnEvent(t *testing.T) {
	racetest.SkipLong(t)
	rc := realcorpus.Generate(realcorpus.Options{Seed: 1})
	raws := make([][]byte, 0, len(rc.Records))
	for _, r := range rc.Records {
		raws = append(raws, r.JSON)
	}
	raws = append(raws, recordings(t)...)
	// Neither holds a change to the password policy (see
	// password_policy_weakened_test.go): generated ones stand in.
	raws = append(raws, pwUpdate(t0, map[string]any{"minimumPasswordLength": 8}).JSON(),
		dt.IAM("DeleteAccountPasswordPolicy", t0, nil).AsAssumedRole("admin", "carol").JSON())
	recs := make([]*cloudtrail.Record, 0, len(raws))
	for _, raw := range raws {
		if rec, err := cloudtrail.Parse(raw, cloudtrail.Options{}); err == nil {
			recs = append(recs, rec)
		}
	}
	if len(recs) < len(rc.Records) {
		t.Fatalf("parsed %d records of %d", len(recs), len(raws))
	}
	for name, ds := range map[string][]detectors.Detector{
		"realistic configuration": buildDumpRules(t, realcorpustest.Config(t)).Registry.Enabled(),
		"defaults":                builtin.All(),
	} {
		t.Run(name, func(t *testing.T) {
			acted := observeExcluded(t, ds, recs)
			for _, d := range ds {
				if _, ok := detectors.InterestsOf(d); ok && acted[d.Info().ID] == 0 {
					// A declaration the corpus never exercises proves nothing.
					t.Errorf("%s: acted on no event of the corpus", d.Info().ID)
				}
			}
		})
	}
}

// observeExcluded observes recs with every detector of ds, in order, on
// one batch per 512 records, and reports each event a Selective detector
// acted on although its Interests leave its call out. It returns how many
// events each detector acted on.
func observeExcluded(t *testing.T, ds []detectors.Detector, recs []*cloudtrail.Record) map[string]int {
	t.Helper()
	interests := make([]map[detectors.Call]bool, len(ds))
	for i, d := range ds {
		calls, ok := detectors.InterestsOf(d)
		if !ok {
			continue
		}
		interests[i] = map[detectors.Call]bool{}
		for _, c := range calls {
			interests[i][c] = true
		}
	}
	acted := map[string]int{}
	b := new(state.Batch)
	for n, rec := range recs {
		if n%512 == 0 {
			b.Reset()
		}
		ev := &detectors.Event{Record: rec, Tenant: "t"}
		for i, d := range ds {
			before := b.Len()
			eval := d.Observe(ev, b)
			if eval == nil && b.Len() == before {
				continue
			}
			acted[d.Info().ID]++
			in := interests[i]
			if in == nil || in[detectors.Call{Source: rec.EventSource}] || in[detectors.Call{Source: rec.EventSource, Name: rec.EventName}] {
				continue
			}
			t.Errorf("%s: acted on %s %s (event %s: evaluation %v, %d operations queued) outside its Interests",
				d.Info().ID, rec.EventSource, rec.EventName, rec.EventID, eval != nil, b.Len()-before)
		}
	}
	return acted
}

// recordings returns every record of the attack recordings in testdata:
// the Stratus detonations (JSON arrays), the OTRF dataset (JSON lines)
// and the Panther rule tests.
func recordings(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, dir := range []string{"stratus", "otrf", "panther"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json*"))
		if err != nil || len(files) == 0 {
			t.Fatalf("testdata/%s: %v, %d files", dir, err, len(files))
		}
		for _, f := range files {
			if dir == "panther" {
				for _, c := range dt.PantherCases(t, f) {
					out = append(out, c.Event)
				}
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
				var recs []json.RawMessage
				if err := json.Unmarshal(data, &recs); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				for _, r := range recs {
					out = append(out, r)
				}
				continue
			}
			for line := range strings.Lines(string(data)) {
				if strings.TrimSpace(line) != "" {
					out = append(out, []byte(line))
				}
			}
		}
	}
	return out
}

// FuzzInterests observes a record, mutated from the attack recordings,
// with every built-in detector: a Selective detector must return nil and
// queue nothing for a call its Interests leave out, whatever the record's
// other fields hold.
func FuzzInterests(f *testing.F) {
	for _, raw := range recordings(f) {
		f.Add(raw)
	}
	ds := builtin.All()
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, err := cloudtrail.Parse(raw, cloudtrail.Options{})
		if err != nil {
			return
		}
		observeExcluded(t, ds, []*cloudtrail.Record{rec})
	})
}
