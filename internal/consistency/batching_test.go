package consistency_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/consistency"
	"github.com/iamsentry/iamsentry/internal/racetest"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpusrules"
)

// TestFindingsIndependentOfBatchSize scores two weeks of twenty people of
// the realistic corpus (every attack kind woven in; at this size two
// enumeration bursts are followed by a drip within one batch) in order, on the embedded store, in micro-batches of 1, 61 and the whole
// corpus at once, and requires the same findings of every record: the
// detector, severity and incident of each. How a stream is cut into
// batches is the shipper's and the server's choice, never the verdict's:
// a finding's marks (a burst raised, which makes a later drip its tail)
// must reach a later record of its own batch as they reach a later batch.
func TestFindingsIndependentOfBatchSize(t *testing.T) {
	racetest.SkipLong(t)
	c := realcorpus.Generate(realcorpus.Options{Seed: 1, Days: 14, People: 20, AttacksPerDay: 9})
	raws := consistency.Raws(c.Records)
	built := realcorpusrules.Build(t)
	var want []string
	for _, n := range []int{1, 61, len(raws)} {
		e := engine.New(built.Registry, newMemory(t), engine.Options{Suppress: built.Suppress})
		vs, err := consistency.Score(context.Background(), e, raws, n)
		if err != nil {
			t.Fatal(err)
		}
		got := findingsByRecord(vs)
		t.Logf("batches of %d: %d findings", n, len(got))
		if want == nil {
			if len(got) == 0 {
				t.Fatal("no finding: the comparison would prove nothing")
			}
			want = got
			continue
		}
		for _, f := range got {
			if _, ok := slices.BinarySearch(want, f); !ok {
				t.Errorf("batches of %d raise %s, batches of 1 do not", n, f)
			}
		}
		for _, f := range want {
			if _, ok := slices.BinarySearch(got, f); !ok {
				t.Errorf("batches of 1 raise %s, batches of %d do not", f, n)
			}
		}
	}
}

// findingsByRecord lists every finding of vs as record, detector, severity
// and incident, sorted.
func findingsByRecord(vs []engine.Verdict) []string {
	var out []string
	for _, v := range vs {
		for _, f := range v.Findings {
			out = append(out, fmt.Sprintf("%s %s %v %s", f.EventID, f.DetectorID, f.Severity, f.Incident))
		}
	}
	slices.Sort(out)
	return out
}
