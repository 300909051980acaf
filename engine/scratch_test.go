package engine_test

import (
	"encoding/json"
	"testing"

	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// TestScratchReuseLeavesNoTrace: the engine reuses a batch's items (records
// included) for later batches. Scoring on used scratch must answer what
// scoring on scratch never used answers (a slot an invalid record leaves
// unparsed, or a record lacking fields the slot's last record had, shows
// nothing of it), and a later batch must not change the verdicts an
// earlier one returned.
func TestScratchReuseLeavesNoTrace(t *testing.T) {
	batches := [][][]byte{
		{attachAdmin("first-role", t0).JSON(), dt.Base("sts.amazonaws.com", "GetCallerIdentity", t0).JSON(),
			attachAdmin("other-role", t0).JSON()},
		{[]byte(`{"not json"`), []byte(`[]`), dt.Base("iam.amazonaws.com", "ListUsers", t0).JSON(),
			attachAdmin("second-role", t0.Add(1)).JSON()},
		{[]byte(`{"eventVersion":"1.08"}`), dt.Base("s3.amazonaws.com", "ListBuckets", t0.Add(2)).JSON()},
	}
	render := func(vs []engine.Verdict) string {
		b, err := json.Marshal(vs)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	used, _ := newEngine(t)
	unused, _ := newEngine(t)
	var earlier [][]engine.Verdict
	var rendered []string
	for round := range 2 {
		for i, recs := range batches {
			// used scores on the scratch the last batch left, unused on
			// scratch never used (then left in the pool for used).
			got := score(t, used, recs...)
			engine.DropScratch()
			want := render(score(t, unused, recs...))
			if g := render(got); g != want {
				t.Errorf("round %d, batch %d on used scratch:\n got %s\nwant %s", round, i, g, want)
			}
			earlier, rendered = append(earlier, got), append(rendered, render(got))
			for j := range earlier {
				if g := render(earlier[j]); g != rendered[j] {
					t.Fatalf("scoring batch %d changed the verdicts of an earlier batch:\n got %s\nwant %s", i, g, rendered[j])
				}
			}
			// Redeliver the batch to both, dirtying the pool again.
			score(t, used, recs...)
			engine.DropScratch()
			score(t, unused, recs...)
		}
	}
}
