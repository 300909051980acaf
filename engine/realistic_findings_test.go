package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpusrules"
	"github.com/iamsentry/iamsentry/state/memory"
)

var findingsOut = flag.String("realistic.findings", "",
	"write the sorted verdicts and findings of the realistic corpus to this file (TestRealisticFindingsDump)")

// TestRealisticFindingsDump scores the realistic month (as
// BenchmarkScoreRealistic does: micro-batches of 512, every detector, GeoIP
// on) and writes every verdict that is not CLEAN, with its findings, one
// line each, sorted, to the file -realistic.findings names. It is how a
// change meant to be invisible (a faster parser, fewer allocations) proves
// it: dump before, dump after, compare. Without the flag it is skipped.
func TestRealisticFindingsDump(t *testing.T) {
	if *findingsOut == "" {
		t.Skip("set -realistic.findings=FILE to dump the realistic corpus's findings")
	}
	c := realcorpus.Generate(realcorpus.Options{Seed: 1})
	built := realcorpusrules.Build(t)
	eng := engine.New(built.Registry, memory.New(memory.WithSweepInterval(0)), engine.Options{Suppress: built.Suppress})
	var lines []string
	counts := map[engine.Outcome]int{}
	const batch = 512
	for off := 0; off < len(c.Records); off += batch {
		end := min(off+batch, len(c.Records))
		raws := make([][]byte, 0, end-off)
		for _, r := range c.Records[off:end] {
			raws = append(raws, r.JSON)
		}
		vs, err := eng.Score(context.Background(), engine.Batch{Records: raws})
		if err != nil {
			t.Fatal(err)
		}
		for i := range vs {
			counts[vs[i].Outcome]++
			if vs[i].Outcome == engine.OutcomeClean && len(vs[i].Stories) == 0 {
				continue
			}
			b, err := json.Marshal(vs[i])
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf("%06d %s", off+i, b))
		}
	}
	slices.Sort(lines)
	out := strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(*findingsOut, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records, outcomes %v, %d lines, sha256 %x", len(c.Records), counts, len(lines), sha256.Sum256([]byte(out)))
}
