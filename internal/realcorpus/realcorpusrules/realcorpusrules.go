// Package realcorpusrules builds the rules a realistic corpus runs under:
// every built-in detector with the corpus's configuration and GeoIP
// databases of its networks. It is the one copy of what the engine's and
// the server's benchmarks and the consistency tests each built for
// themselves; realcorpustest cannot host it, because detectors/builtin's
// own tests import realcorpustest and this imports detectors/builtin.
package realcorpusrules

import (
	"testing"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/detectors/geoip"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpustest"
)

// Build returns realcorpustest.Config built with builtin.Specs and GeoIP
// databases written for tb; the databases are closed when tb ends. Any
// failure fails tb.
func Build(tb testing.TB) *config.Built {
	tb.Helper()
	cfg, err := config.Parse([]byte(realcorpustest.Config(tb)))
	if err != nil {
		tb.Fatalf("realistic corpus configuration: %v", err)
	}
	geo, err := geoip.Open(cfg.GeoIP.CountryDB, cfg.GeoIP.ASNDB)
	if err != nil {
		tb.Fatalf("realistic corpus GeoIP databases: %v", err)
	}
	tb.Cleanup(func() { geo.Close() })
	built, err := cfg.Build(builtin.Specs(), geo)
	if err != nil {
		tb.Fatalf("realistic corpus rules: %v", err)
	}
	return built
}
