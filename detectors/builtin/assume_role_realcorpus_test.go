package builtin_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/detectors/geoip"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpustest"
	"github.com/iamsentry/iamsentry/state/memory"
)

// arsCorpusCount scores the realistic month (internal/realcorpus, seed 1)
// with every built-in detector under cfg, and counts the findings of
// assume-role-unexpected-source by severity, apart for records of woven-in
// attacks ("attack") and benign ones ("benign").
func arsCorpusCount(t *testing.T, c *realcorpus.Corpus, cfg string, withGeo bool) map[string]int {
	t.Helper()
	parsed, err := config.Parse([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var geo detectors.GeoLookup
	if withGeo {
		g, err := geoip.Open(parsed.GeoIP.CountryDB, parsed.GeoIP.ASNDB)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		geo = g
	}
	built, err := parsed.Build(builtin.Specs(), geo)
	if err != nil {
		t.Fatal(err)
	}
	attack := map[string]bool{}
	for _, a := range c.Attacks {
		for _, id := range a.EventIDs {
			attack[id] = true
		}
	}
	store := memory.New()
	defer store.Close()
	eng := engine.New(built.Registry, store, engine.Options{Suppress: built.Suppress})
	counts := map[string]int{}
	const batch = 512
	for off := 0; off < len(c.Records); off += batch {
		raws := make([][]byte, 0, batch)
		for _, r := range c.Records[off:min(off+batch, len(c.Records))] {
			raws = append(raws, r.JSON)
		}
		vs, err := eng.Score(context.Background(), engine.Batch{Records: raws})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range arsOnly(vs) {
			side := "benign"
			if attack[f.EventID] {
				side = "attack"
			}
			counts[side+" "+f.Severity.String()]++
		}
	}
	return counts
}

func arsOnly(vs []engine.Verdict) []detectors.Finding {
	var out []detectors.Finding
	for _, v := range vs {
		for _, f := range v.Findings {
			if f.DetectorID == builtin.AssumeRoleUnexpectedSourceID {
				out = append(out, f)
			}
		}
	}
	return out
}

func arsFormat(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// TestAssumeRoleUnexpectedSourceRealCorpus measures the detector on a month
// of a realistic organisation (145 identities) with its recommended
// configuration (account, trusted office/CI/AWS egress, a privileged role),
// with GeoIP databases built at test time and without them: people's
// home networks must be learned, not alerted on.
func TestAssumeRoleUnexpectedSourceRealCorpus(t *testing.T) {
	if testing.Short() || os.Getenv("IAMSENTRY_CORPUS_TESTS") == "" {
		t.Skip("scores 180k records twice with every detector (a minute, several under -race): make noise runs it (IAMSENTRY_CORPUS_TESTS=1)")
	}
	c := realcorpus.Generate(realcorpus.Options{Seed: 1})
	cfg := realcorpustest.Config(t)
	noGeo := cfg[:strings.Index(cfg, "geoip:")]
	for _, run := range []struct {
		name string
		cfg  string
		geo  bool
	}{{"geoip", cfg, true}, {"no geoip", noGeo, false}} {
		counts := arsCorpusCount(t, c, run.cfg, run.geo)
		t.Logf("%s: %d records: %s", run.name, len(c.Records), arsFormat(counts))
		if n := counts["benign MEDIUM"] + counts["benign HIGH"] + counts["benign CRITICAL"]; n > 5 {
			t.Errorf("%s: %d MEDIUM+ findings on benign records, want at most 5", run.name, n)
		}
		// Six developers' keys assume the admin role from an attacker's
		// network; the seventh attack reuses a key already caught there.
		// The office developers' history is their sign-ins from
		// trusted_networks, so all six raise, with or without GeoIP
		// (without it, as a new /16 of an established person).
		want := 6
		if counts["attack HIGH"] < want {
			t.Errorf("%s: %d HIGH findings on the attacks, want at least %d", run.name, counts["attack HIGH"], want)
		}
	}
}
