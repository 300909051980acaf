package detectors_test

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
)

// countingGeo is a geoMap that counts its lookups.
type countingGeo struct {
	geoMap
	n int
}

func (g *countingGeo) Lookup(a netip.Addr) (detectors.GeoLocation, bool) {
	g.n++
	return g.geoMap.Lookup(a)
}

// TestSourceNetworkIsNetworkOnce: the per-event memo answers what
// Settings.Network and GeoIP.Lookup answer for the event's (unmapped)
// source address, looks up once per event, and never serves one
// configuration's answer to another.
func TestSourceNetworkIsNetworkOnce(t *testing.T) {
	geo := geoMap{
		netip.MustParseAddr("167.99.1.1"): {Country: "DE", ASN: 14061, ASNOrg: "DIGITALOCEAN-ASN"},
		netip.MustParseAddr("10.1.1.1"):   {}, // known to the database, nothing in it
	}
	for _, src := range []string{"167.99.1.1", "::ffff:167.99.1.1", "10.1.1.1", "198.51.100.7", "ec2.amazonaws.com"} {
		t.Run(src, func(t *testing.T) {
			var r cloudtrail.Record
			r.SourceIPAddress = src
			r.SourceIP, _ = netip.ParseAddr(src)
			ev := &detectors.Event{Record: &r}
			cg := &countingGeo{geoMap: geo}
			s := &detectors.Settings{GeoIP: cg}
			plain := &detectors.Settings{GeoIP: geo}
			want := plain.Network(r.SourceIP.Unmap())
			wantLoc, wantOK := geo.Lookup(r.SourceIP.Unmap())
			for range 3 {
				if got := s.SourceNetwork(ev); got != want {
					t.Errorf("SourceNetwork = %+v, Settings.Network says %+v", got, want)
				}
				if loc, ok := s.SourceLocation(ev); loc != wantLoc || ok != wantOK {
					t.Errorf("SourceLocation = %+v %v, GeoIP.Lookup says %+v %v", loc, ok, wantLoc, wantOK)
				}
			}
			if r.SourceIP.IsValid() && cg.n != 1 {
				t.Errorf("%d lookups for one event, want 1", cg.n)
			}
			hosting := &detectors.Settings{GeoIP: geo, HostingASNs: []uint32{}}
			if got, want := hosting.SourceNetwork(ev), hosting.Network(r.SourceIP.Unmap()); got != want {
				t.Errorf("another configuration got %+v from the memo, want its own %+v", got, want)
			}
			var none *detectors.Settings
			if got := none.SourceNetwork(ev); got.Known() || got.Kind != detectors.NetworkUnknown {
				t.Errorf("nil settings placed the source: %+v", got)
			}
		})
	}
}

// TestKeyIdentity: an access key's state identity is "key:" and its id,
// for the event's own key (remembered) and for any other.
func TestKeyIdentity(t *testing.T) {
	var r cloudtrail.Record
	r.UserIdentity.AccessKeyID = "AKIAOWN"
	ev := &detectors.Event{Record: &r}
	for range 2 {
		for _, k := range []string{"AKIAOWN", "ASIAOTHER", "AKIAOWN", ""} {
			if got, want := ev.KeyIdentity(k), "key:"+k; got != want {
				t.Errorf("KeyIdentity(%q) = %q, want %q", k, got, want)
			}
		}
	}
}

// TestKeyIdentityWithoutRecord: an Event made only to build keys (as
// tests and readers of shared marks do) names any key.
func TestKeyIdentityWithoutRecord(t *testing.T) {
	if got := (&detectors.Event{}).KeyIdentity("AKIAX"); got != "key:AKIAX" {
		t.Errorf("KeyIdentity = %q, want key:AKIAX", got)
	}
}

// TestSourceMemoLetsSettingsGo: once nothing but the process-wide memo
// of sources refers to a configuration, a collection frees it. A reload
// replaces Settings with their GeoIP databases; the memo held the old
// ones for as long as any of their entries stayed in it.
func TestSourceMemoLetsSettingsGo(t *testing.T) {
	geo := geoMap{netip.MustParseAddr("167.99.1.1"): {Country: "DE", ASN: 14061}}
	freed := make(chan struct{})
	func() {
		s := &detectors.Settings{GeoIP: geo}
		runtime.AddCleanup(s, func(c chan struct{}) { close(c) }, freed)
		for _, a := range []string{"167.99.1.1", "198.51.100.7", "203.0.113.9"} {
			var r cloudtrail.Record
			r.SourceIP = netip.MustParseAddr(a)
			s.SourceNetwork(&detectors.Event{Record: &r})
		}
	}()
	for range 20 {
		runtime.GC()
		select {
		case <-freed:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("Settings no one but the source memo refers to were not freed after 20 collections")
}

// TestSourceMemoAfterSettingsGo: Settings made after others were freed,
// perhaps at their address, never get the freed ones' answers.
func TestSourceMemoAfterSettingsGo(t *testing.T) {
	a := netip.MustParseAddr("167.99.1.1")
	for i := range 200 {
		country := "DE"
		if i%2 == 1 {
			country = "FR"
		}
		s := &detectors.Settings{GeoIP: geoMap{a: {Country: country, ASN: 14061}}}
		var r cloudtrail.Record
		r.SourceIP = a
		if loc, _ := s.SourceLocation(&detectors.Event{Record: &r}); loc.Country != country {
			t.Fatalf("configuration %d: the memo answered %q, its database says %q", i, loc.Country, country)
		}
		if i%10 == 0 {
			runtime.GC()
		}
	}
}
