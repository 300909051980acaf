package builtin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/detectors/geoip"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/benign"
	"github.com/iamsentry/iamsentry/internal/benign/benigntest"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpustest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// TestFindingsDump writes every verdict of the realistic month (with
// GeoIP, in batches of 512 and of 61) and of the benign month (the five
// configurations of make noise) to files under $IAMSENTRY_FINDINGS_DUMP,
// one JSON line per record, with the marks and throttles findings ask for,
// and logs the state operations the detectors queue per event. It exists
// so a change meant to save state operations can prove it changed no
// finding: dump before and after, and diff the directories.
// IAMSENTRY_FINDINGS_DUMP_QUICK=1 dumps the realistic month in batches of
// 512 only.
func TestFindingsDump(t *testing.T) {
	dir := os.Getenv("IAMSENTRY_FINDINGS_DUMP")
	if dir == "" {
		t.Skip("set IAMSENTRY_FINDINGS_DUMP to a directory to dump the findings of both corpora")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rc := realcorpus.Generate(realcorpus.Options{Seed: 1})
	real := make([][]byte, len(rc.Records))
	for i, r := range rc.Records {
		real[i] = r.JSON
	}
	realRules := buildDumpRules(t, realcorpustest.Config(t))
	for _, batch := range []int{512, 61} {
		ops := dumpCorpus(t, filepath.Join(dir, fmt.Sprintf("realistic-%d.jsonl", batch)), realRules, real, batch)
		t.Logf("realistic, batches of %d: %s", batch, ops.summary(len(real)))
		if os.Getenv("IAMSENTRY_FINDINGS_DUMP_QUICK") != "" {
			return // the realistic month in batches of 512 only
		}
	}
	bc := benign.Generate(benign.Options{Seed: 1})
	ben := make([][]byte, len(bc.Records))
	for i, r := range bc.Records {
		ben[i] = r.JSON
	}
	for name, yaml := range map[string]string{
		"a":  benigntest.Defaults(),
		"a2": benigntest.WithGeoIP(t, benigntest.Defaults()),
		"b":  benigntest.WithGeoIP(t, benigntest.Basic()),
		"b2": benigntest.Basic(),
		"c":  benigntest.Recommended(t),
	} {
		ops := dumpCorpus(t, filepath.Join(dir, "benign-"+name+".jsonl"), buildDumpRules(t, yaml), ben, 256)
		t.Logf("benign %s: %s", name, ops.summary(len(ben)))
	}
}

func buildDumpRules(t *testing.T, yaml string) *config.Built {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	var geo detectors.GeoLookup
	if cfg.GeoIP.CountryDB != "" {
		db, err := geoip.Open(cfg.GeoIP.CountryDB, cfg.GeoIP.ASNDB)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		geo = db
	}
	b, err := cfg.Build(builtin.Specs(), geo)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dumpedFinding is a finding with the fields JSON leaves out.
type dumpedFinding struct {
	detectors.Finding
	Once  *detectors.Once     `json:"once,omitempty"`
	Marks []detectors.SetMark `json:"marks,omitempty"`
}

func dumpCorpus(t *testing.T, path string, rules *config.Built, raws [][]byte, batch int) *dumpOps {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	store := memory.New(memory.WithSweepInterval(0))
	defer store.Close()
	ops := &dumpOps{Store: store, n: map[string]int{}}
	eng := engine.New(rules.Registry, ops, engine.Options{Suppress: rules.Suppress})
	enc := json.NewEncoder(w)
	findings := 0
	for off := 0; off < len(raws); off += batch {
		vs, err := eng.Score(context.Background(), engine.Batch{Records: raws[off:min(off+batch, len(raws))]})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vs {
			fs := make([]dumpedFinding, len(v.Findings))
			for j, x := range v.Findings {
				fs[j] = dumpedFinding{Finding: x, Once: x.Once, Marks: x.Marks}
			}
			findings += len(fs)
			line := struct {
				N        int
				Outcome  engine.Outcome
				Reason   string          `json:",omitempty"`
				Findings []dumpedFinding `json:",omitempty"`
				Stories  any             `json:",omitempty"`
			}{off + i, v.Outcome, v.Reason, fs, v.Stories}
			if err := enc.Encode(line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if findings == 0 {
		t.Errorf("%s: no findings at all", path)
	}
	return ops
}

// dumpOps counts the operations queued per kind and key name.
type dumpOps struct {
	state.Store
	n map[string]int
}

func (o *dumpOps) Exec(ctx context.Context, b *state.Batch) error {
	for _, op := range b.Ops() {
		kind := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%T", op), "*state."), "Op")
		name := ""
		if k := reflect.ValueOf(op).Elem().FieldByName("Key"); k.IsValid() {
			name = k.Interface().(state.Key).Name
		}
		if i := strings.IndexAny(name, ":|/"); i > 0 {
			name = name[:i]
		}
		o.n[kind+" "+name]++
	}
	return o.Store.Exec(ctx, b)
}

func (o *dumpOps) summary(events int) string {
	kinds := slices.SortedFunc(maps.Keys(o.n), func(x, y string) int { return o.n[y] - o.n[x] })
	total := 0
	var s strings.Builder
	for _, k := range kinds {
		total += o.n[k]
		fmt.Fprintf(&s, "%s %.3f; ", k, float64(o.n[k])/float64(events))
	}
	return fmt.Sprintf("%.3f ops/event: %s", float64(total)/float64(events), s.String())
}
