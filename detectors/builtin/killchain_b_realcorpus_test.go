package builtin_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/state/memory"
)

// TestKillChainRealCorpus scores the realistic month (internal/realcorpus,
// seed 1: 145 identities, CI, IaC, scanners, people on the console) with
// logging-tampering, offensive-tooling and access-denied-burst at their
// defaults, and counts their findings by severity on benign records and on
// the woven-in attacks. A month of an ordinary organisation must not page
// anyone: no MEDIUM or higher on benign records.
func TestKillChainRealCorpus(t *testing.T) {
	if testing.Short() || os.Getenv("IAMSENTRY_CORPUS_TESTS") == "" {
		t.Skip("scores the realistic month (a minute, several under -race): make noise runs it (IAMSENTRY_CORPUS_TESTS=1)")
	}
	c := realcorpus.Generate(realcorpus.Options{Seed: 1})
	attack := map[string]bool{}
	for _, a := range c.Attacks {
		for _, id := range a.EventIDs {
			attack[id] = true
		}
	}
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	mine := map[string]bool{builtin.LoggingTamperingID: true, builtin.OffensiveToolingID: true, builtin.AccessDeniedBurstID: true}
	on := map[string]bool{}
	for _, id := range reg.IDs() {
		on[id] = mine[id]
	}
	if reg, err = reg.WithEnabled(on); err != nil {
		t.Fatal(err)
	}
	store := memory.New()
	defer store.Close()
	eng := engine.New(reg, store, engine.Options{})
	counts, denied := map[string]int{}, 0
	const batch = 512
	for off := 0; off < len(c.Records); off += batch {
		raws := make([][]byte, 0, batch)
		for _, r := range c.Records[off:min(off+batch, len(c.Records))] {
			raws = append(raws, r.JSON)
			if bytes.Contains(r.JSON, []byte(`"errorCode":"AccessDenied"`)) {
				denied++
			}
		}
		vs, err := eng.Score(context.Background(), engine.Batch{Records: raws})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			for _, f := range v.Findings {
				side := "benign"
				if attack[f.EventID] {
					side = "attack"
				}
				counts[f.DetectorID+" "+side+" "+f.Severity.String()]++
				if side == "benign" && f.Severity >= detectors.SeverityMedium {
					t.Errorf("benign %s %s: %s", f.DetectorID, f.Severity, f.Explanation)
				}
			}
		}
	}
	t.Logf("%d records, %d of them AccessDenied: %s", len(c.Records), denied, arsFormat(counts))
}
