package builtin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// hostingGeo is geoTable plus a VPS provider (DigitalOcean, AS14061, a
// default hosting ASN) and a Tor exit operator (AS60729).
var hostingGeo = func() fakeGeo {
	g := fakeGeo{
		"192.0.2.128/25":  {Country: "NL", ASN: 14061, ASNOrg: "DIGITALOCEAN-ASN"},
		"198.51.102.0/24": {Country: "DE", ASN: 60729, ASNOrg: "Stiftung Erneuerbare Freiheit"},
	}
	for p, loc := range geoTable {
		g[p] = loc
	}
	return g
}()

// TestAccessKeyNewLocationHostingSkipsWarmUp: a key seen somewhere and then
// used from a VPS or a Tor exit is the attack, not a baseline to learn, so
// it raises during the warm-up; the identity's very first sighting still
// only learns (on a new deployment every key's first use is one, and
// automation lives on hosting networks); an ordinary ISP in the warm-up
// only learns.
func TestAccessKeyNewLocationHostingSkipsWarmUp(t *testing.T) {
	s := &detectors.Settings{GeoIP: hostingGeo}
	high := detectors.SeverityHigh
	for _, tc := range []struct {
		name   string
		stream []dt.Rec
		want   func([]dt.Rec) []want
	}{
		{"quiet: the first sighting ever, from a VPS, learns",
			[]dt.Rec{call(t0, "192.0.2.200")},
			func([]dt.Rec) []want { return nil }},
		{"a VPS an hour after the first sighting is HIGH",
			[]dt.Rec{call(t0, "203.0.113.10"), call(t0.Add(time.Hour), "192.0.2.200")},
			func(s []dt.Rec) []want { return []want{{s[1].ID(), high}} }},
		{"a Tor exit on day two is HIGH",
			[]dt.Rec{call(t0, "203.0.113.10"), call(day(1), "198.51.102.9")},
			func(s []dt.Rec) []want { return []want{{s[1].ID(), high}} }},
		{"quiet: a workload role's sessions are workload-credentials-off-workload's",
			[]dt.Rec{roleCall(t0, "deploy", "ci-1", "203.0.113.10"), roleCall(t0.Add(time.Hour), "deploy", "ci-2", "192.0.2.201")},
			func([]dt.Rec) []want { return nil }},
		{"quiet: a new ISP in the warm-up only learns",
			[]dt.Rec{call(t0, "203.0.113.10"), call(day(1), "198.51.100.20"), call(day(2), "198.51.101.9")},
			func([]dt.Rec) []want { return nil }},
		{"the VPS again, once known, raises only its first use",
			[]dt.Rec{call(t0, "203.0.113.10"), call(t0.Add(time.Hour), "192.0.2.200"), call(t0.Add(2*time.Hour), "192.0.2.201"), call(day(1), "192.0.2.202")},
			func(s []dt.Rec) []want { return []want{{s[1].ID(), high}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := checkFindings(t, builtin.AccessKeyNewLocationID, dt.New(t, newLocation(t, s)), tc.stream, tc.want(tc.stream)...)
			for _, f := range fs {
				if f.Evidence["network_kind"] != "hosting" || !strings.Contains(f.Explanation, "hosting, VPN or Tor") {
					t.Errorf("finding does not say the network is a hosting one: %q, %v", f.Explanation, f.Evidence)
				}
			}
		})
	}
	// A trimmed hosting list (networks.not_hosting_asns) turns the skip off.
	trimmed := &detectors.Settings{GeoIP: hostingGeo, HostingASNs: []uint32{60729}}
	stream := []dt.Rec{call(t0, "203.0.113.10"), call(t0.Add(time.Hour), "192.0.2.200")}
	checkFindings(t, builtin.AccessKeyNewLocationID, dt.New(t, newLocation(t, trimmed)), stream)
}
