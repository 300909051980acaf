package benign_test

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
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
	"github.com/iamsentry/iamsentry/state/memory"
)

var (
	noise        = flag.Bool("noise", false, "score the benign month with each configuration and print findings per 100k records (make noise)")
	noiseSamples = flag.Int("noise-samples", 0, "with -noise, print this many example explanations per detector and severity")
)

// TestRecommendedLoads loads recommended.yaml with the real configuration
// loader, as serve and scan do, with GeoIP databases opened.
func TestRecommendedLoads(t *testing.T) {
	b := build(t, benigntest.Recommended(t))
	if len(b.Suppress) == 0 || len(b.Settings.SessionNamePatterns) == 0 || b.Settings.GeoIP == nil {
		t.Errorf("recommended.yaml lost keys on the way: %d suppress entries, %d session-name patterns, GeoIP %v",
			len(b.Suppress), len(b.Settings.SessionNamePatterns), b.Settings.GeoIP)
	}
	for _, s := range b.Suppress {
		if s.Reason == "" {
			t.Errorf("%s: every recommended suppression says why", s.String())
		}
	}
}

// build parses and builds a configuration, GeoIP databases opened.
func build(t *testing.T, yaml string) *config.Built {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
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
		t.Fatalf("config: %v", err)
	}
	return b
}

// TestNoise is make noise: it scores the benign month with the defaults,
// with accounts and trusted networks, and with the recommended
// configuration, and prints the unsuppressed findings per 100k records by
// detector and severity, and the patterns that raised them. It asserts
// nothing about the figures (docs/noise.md holds the targets and the last
// measurement); it runs only with -noise.
func TestNoise(t *testing.T) {
	if !*noise {
		t.Skip("run with -noise (make noise)")
	}
	c := benign.Generate(benign.Options{Seed: 1})
	fmt.Printf("benign corpus: %d records, %d people, %d days, seed 1\n", len(c.Records), len(c.People), 30)
	// target is issue 12's ceiling on unsuppressed MEDIUM+ per 100k
	// records; 0: none.
	for _, run := range []struct {
		name, yaml string
		target     float64
	}{
		{"(a) defaults, no GeoIP databases", benigntest.Defaults(), 0},
		{"(a') defaults with the GeoIP databases make geoip installs", benigntest.WithGeoIP(t, benigntest.Defaults()), 0},
		{"(b) defaults (GeoIP as installed) + accounts + trusted_networks", benigntest.WithGeoIP(t, benigntest.Basic()), 50},
		{"(b') defaults + accounts + trusted_networks, no GeoIP databases", benigntest.Basic(), 0},
		{"(c) recommended (internal/benign/recommended.yaml)", benigntest.Recommended(t), 5},
	} {
		report(os.Stdout, run.name, run.target, score(t, c, build(t, run.yaml)), len(c.Records))
	}
}

// tally counts findings by detector and severity, and by pattern.
type tally struct {
	alerts     map[string]int // "detector SEVERITY"
	patterns   map[string]map[string]int
	samples    map[string][]string
	stories    stories
	suppressed int
	mediumUp   int
}

// score runs c through a fresh engine on the embedded store in batches
// the size of a CloudTrail delivery's.
func score(t *testing.T, c *benign.Corpus, b *config.Built) *tally {
	const batch = 256
	store := memory.New(memory.WithSweepInterval(0))
	defer store.Close()
	eng := engine.New(b.Registry, store, engine.Options{Suppress: b.Suppress})
	n := &tally{alerts: map[string]int{}, patterns: map[string]map[string]int{}, samples: map[string][]string{}, stories: stories{}}
	raws := make([][]byte, 0, batch)
	for off := 0; off < len(c.Records); off += batch {
		raws = raws[:0]
		for _, r := range c.Records[off:min(off+batch, len(c.Records))] {
			raws = append(raws, r.JSON)
		}
		vs, err := eng.Score(context.Background(), engine.Batch{Records: raws})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vs {
			if v.Outcome == engine.OutcomeInvalid {
				t.Fatalf("record %d invalid: %s", off+i, v.Reason)
			}
			n.stories.add(v.Stories)
			for _, f := range v.Findings {
				if f.Suppressed != nil {
					n.suppressed++
					continue
				}
				key := f.DetectorID + " " + f.Severity.String()
				n.alerts[key]++
				if f.Severity >= detectors.SeverityMedium {
					n.mediumUp++
				}
				if n.patterns[key] == nil {
					n.patterns[key] = map[string]int{}
				}
				n.patterns[key][c.Pattern[off+i]]++
				if len(n.samples[key]) < *noiseSamples {
					n.samples[key] = append(n.samples[key], c.Pattern[off+i]+": "+f.Explanation)
				}
			}
		}
	}
	return n
}

func report(w *os.File, name string, target float64, n *tally, records int) {
	per := func(k int) float64 { return float64(k) * 100000 / float64(records) }
	fmt.Fprintf(w, "\n== %s\n", name)
	fmt.Fprintf(w, "   MEDIUM+ unsuppressed: %d = %.1f per 100k records; suppressed findings: %d\n", n.mediumUp, per(n.mediumUp), n.suppressed)
	if target > 0 {
		verdict := "met"
		if per(n.mediumUp) > target {
			verdict = "NOT met"
		}
		fmt.Fprintf(w, "   target: <= %.0f MEDIUM+ per 100k: %s\n", target, verdict)
	}
	n.stories.report(w)
	keys := slices.SortedFunc(maps.Keys(n.alerts), func(a, b string) int { return cmp.Or(cmp.Compare(n.alerts[b], n.alerts[a]), strings.Compare(a, b)) })
	fmt.Fprintf(w, "   %-48s %7s %9s  %s\n", "detector severity", "count", "per 100k", "patterns (count)")
	for _, k := range keys {
		pats := n.patterns[k]
		names := slices.SortedFunc(maps.Keys(pats), func(a, b string) int { return cmp.Or(cmp.Compare(pats[b], pats[a]), strings.Compare(a, b)) })
		var parts []string
		for _, p := range names[:min(4, len(names))] {
			parts = append(parts, fmt.Sprintf("%s (%d)", p, pats[p]))
		}
		fmt.Fprintf(w, "   %-48s %7d %9.1f  %s\n", k, n.alerts[k], per(n.alerts[k]), strings.Join(parts, ", "))
		for _, s := range n.samples[k] {
			fmt.Fprintf(w, "      e.g. %s\n", s)
		}
	}
}
