package geoip_test

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/iamsentry/iamsentry/detectors/geoip"
	"github.com/iamsentry/iamsentry/detectors/geoip/geoiptest"
)

// TestLookupRepeatedIsFirst: a lookup answered from the decoded records a
// DB remembers is the lookup a freshly opened DB answers, for addresses of
// shared networks, unknown ones, and concurrent callers.
func TestLookupRepeatedIsFirst(t *testing.T) {
	cpath := geoiptest.Write(t, "GeoLite2-Country", countryNets()...)
	apath := geoiptest.Write(t, "GeoLite2-ASN", asnNets()...)
	open := func() *geoip.DB {
		db, err := geoip.Open(cpath, apath)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	addrs := []string{"198.51.100.7", "198.51.100.200", "203.0.113.9", "2001:db8::1", "2001:db8:ffff::1",
		"::ffff:198.51.100.7", "192.0.2.1", "10.0.0.1"}
	type answer struct {
		loc   geoip.Location
		found bool
	}
	want := map[string]answer{}
	for _, a := range addrs {
		loc, found := open().Lookup(netip.MustParseAddr(a)) // first lookup of a fresh DB
		want[a] = answer{loc, found}
	}
	db := open()
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := range 5 * len(addrs) {
				a := addrs[(i+w)%len(addrs)]
				if loc, found := db.Lookup(netip.MustParseAddr(a)); (answer{loc, found}) != want[a] {
					t.Errorf("Lookup(%s) = %+v, %v; a fresh DB says %+v", a, loc, found, want[a])
				}
			}
		})
	}
	wg.Wait()
	if !want["198.51.100.7"].found || want["192.0.2.1"].found {
		t.Fatalf("the databases do not hold what the test assumes: %+v", want)
	}
}
