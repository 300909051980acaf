package detectors_test

import (
	"net/netip"
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
)

type geoMap map[netip.Addr]detectors.GeoLocation

func (g geoMap) Lookup(a netip.Addr) (detectors.GeoLocation, bool) {
	l, ok := g[a]
	return l, ok
}

func TestSettingsNetwork(t *testing.T) {
	geo := geoMap{
		netip.MustParseAddr("3.5.140.2"):     {Country: "US", ASN: 16509, ASNOrg: "AMAZON-02"},
		netip.MustParseAddr("52.95.1.1"):     {Country: "IE", ASN: 64999, ASNOrg: "Amazon.com, Inc."},
		netip.MustParseAddr("167.99.1.1"):    {Country: "DE", ASN: 14061, ASNOrg: "DIGITALOCEAN-ASN"},
		netip.MustParseAddr("185.220.101.1"): {Country: "DE", ASN: 60729, ASNOrg: "Stiftung Erneuerbare Freiheit"},
		netip.MustParseAddr("84.128.1.1"):    {Country: "DE", ASN: 3320, ASNOrg: "Deutsche Telekom AG"},
		netip.MustParseAddr("10.1.1.1"):      {Country: "", ASN: 0},
	}
	cases := []struct {
		name string
		s    *detectors.Settings
		addr string
		want detectors.NetworkKind
	}{
		{"aws by number", &detectors.Settings{GeoIP: geo}, "3.5.140.2", detectors.NetworkAWS},
		{"aws by organisation", &detectors.Settings{GeoIP: geo}, "52.95.1.1", detectors.NetworkAWS},
		{"vps", &detectors.Settings{GeoIP: geo}, "167.99.1.1", detectors.NetworkHosting},
		{"tor exit operator", &detectors.Settings{GeoIP: geo}, "185.220.101.1", detectors.NetworkHosting},
		{"home isp", &detectors.Settings{GeoIP: geo}, "84.128.1.1", detectors.NetworkOther},
		{"isp declared hosting", &detectors.Settings{GeoIP: geo, HostingASNs: []uint32{3320}}, "84.128.1.1", detectors.NetworkHosting},
		{"vps trimmed from the list", &detectors.Settings{GeoIP: geo, HostingASNs: []uint32{60729}}, "167.99.1.1", detectors.NetworkOther},
		{"record without an asn", &detectors.Settings{GeoIP: geo}, "10.1.1.1", detectors.NetworkUnknown},
		{"not in the database", &detectors.Settings{GeoIP: geo}, "198.51.100.7", detectors.NetworkUnknown},
		{"no database", &detectors.Settings{}, "3.5.140.2", detectors.NetworkUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := c.s.Network(netip.MustParseAddr(c.addr))
			if n.Kind != c.want {
				t.Errorf("Network(%s).Kind = %v, want %v (%+v)", c.addr, n.Kind, c.want, n)
			}
			if n.Known() != (n.ASN != 0) {
				t.Errorf("Known() = %v with ASN %d", n.Known(), n.ASN)
			}
		})
	}
	var nilSettings *detectors.Settings
	if got := nilSettings.Network(netip.MustParseAddr("3.5.140.2")).Kind; got != detectors.NetworkUnknown {
		t.Errorf("nil settings: Kind = %v, want unknown", got)
	}
}
