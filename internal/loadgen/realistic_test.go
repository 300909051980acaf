package loadgen_test

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/detectors/geoip"
	"github.com/iamsentry/iamsentry/internal/cli"
	"github.com/iamsentry/iamsentry/internal/loadgen"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpustest"
)

// TestRealisticConfigIsTheBenchmarksOne: a server spawned by loadgen must
// score the realistic corpus with the configuration the in-process
// benchmarks use (realcorpustest.Config), apart from where the databases
// are, and serve must accept it with GeoIP databases that place every
// network of the corpus.
func TestRealisticConfigIsTheBenchmarksOne(t *testing.T) {
	dir := t.TempDir()
	path, err := loadgen.WriteRealisticConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := withoutDBPaths(string(got)), withoutDBPaths(realcorpustest.Config(t)); g != w {
		t.Errorf("configuration differs from realcorpustest.Config beyond database paths:\n got %s\nwant %s", g, w)
	}
	var out, errb bytes.Buffer
	if code := cli.Main(context.Background(), []string{"config", "validate", path}, cli.Stdio{In: strings.NewReader(""), Out: &out, Err: &errb}); code != 0 {
		t.Fatalf("config validate %s: exit %d\n%s%s", path, code, out.String(), errb.String())
	}
	db, err := geoip.Open(filepath.Join(dir, "GeoLite2-Country.mmdb"), filepath.Join(dir, "GeoLite2-ASN.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, n := range realcorpus.Networks {
		addr := netip.MustParsePrefix(n.Prefix).Addr().Next()
		loc, ok := db.Lookup(addr)
		if !ok || loc.Country != n.Country || loc.ASN != n.ASN || loc.ASNOrg != n.ASNOrg {
			t.Errorf("Lookup(%s) = %+v, %v; want %s AS%d %s", addr, loc, ok, n.Country, n.ASN, n.ASNOrg)
		}
	}
}

func withoutDBPaths(yaml string) string {
	var keep []string
	for _, line := range strings.Split(yaml, "\n") {
		if !strings.HasPrefix(line, "  country_db:") && !strings.HasPrefix(line, "  asn_db:") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}
