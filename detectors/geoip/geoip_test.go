package geoip_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/detectors/geoip"
	"github.com/iamsentry/iamsentry/detectors/geoip/geoiptest"
)

// The databases here are generated at test time (geoiptest); networks are
// RFC 5737/3849 documentation ranges.

func countryNets() []geoiptest.Net {
	return []geoiptest.Net{
		{Prefix: "198.51.100.0/24", Country: "DE", RegisteredCountry: "DE"},
		{Prefix: "203.0.113.0/24", RegisteredCountry: "US"}, // anycast: no located country
		{Prefix: "2001:db8::/32", Country: "JP"},
	}
}

func asnNets() []geoiptest.Net {
	return []geoiptest.Net{
		{Prefix: "198.51.100.0/24", ASN: 3320, ASNOrg: "Deutsche Telekom AG"},
		{Prefix: "2001:db8::/32", ASN: 2497, ASNOrg: "Internet Initiative Japan Inc."},
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name      string
		country   string // database type, "" for none
		asn       string
		addr      string
		want      geoip.Location
		wantFound bool
	}{
		{"country and ASN", "GeoLite2-Country", "GeoLite2-ASN", "198.51.100.7",
			geoip.Location{Country: "DE", ASN: 3320, ASNOrg: "Deutsche Telekom AG"}, true},
		{"registered country when not located", "GeoLite2-Country", "GeoLite2-ASN", "203.0.113.9",
			geoip.Location{Country: "US"}, true},
		{"IPv6", "GeoLite2-Country", "GeoLite2-ASN", "2001:db8::1",
			geoip.Location{Country: "JP", ASN: 2497, ASNOrg: "Internet Initiative Japan Inc."}, true},
		{"IPv4-mapped IPv6 is looked up as IPv4", "GeoLite2-Country", "GeoLite2-ASN", "::ffff:198.51.100.7",
			geoip.Location{Country: "DE", ASN: 3320, ASNOrg: "Deutsche Telekom AG"}, true},
		{"unknown address", "GeoLite2-Country", "GeoLite2-ASN", "192.0.2.1", geoip.Location{}, false},
		{"City database as country_db", "GeoIP2-City", "", "198.51.100.7", geoip.Location{Country: "DE"}, true},
		{"ISP database as asn_db", "", "GeoIP2-ISP", "198.51.100.7",
			geoip.Location{ASN: 3320, ASNOrg: "Deutsche Telekom AG"}, true},
		{"ASN only", "", "GeoLite2-ASN", "2001:db8::1",
			geoip.Location{ASN: 2497, ASNOrg: "Internet Initiative Japan Inc."}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cpath, apath string
			if tt.country != "" {
				cpath = geoiptest.Write(t, tt.country, countryNets()...)
			}
			if tt.asn != "" {
				apath = geoiptest.Write(t, tt.asn, asnNets()...)
			}
			db, err := geoip.Open(cpath, apath)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			got, found := db.Lookup(netip.MustParseAddr(tt.addr))
			if got != tt.want || found != tt.wantFound {
				t.Errorf("Lookup(%s) = %+v, %v; want %+v, %v", tt.addr, got, found, tt.want, tt.wantFound)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notMMDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notMMDB, []byte("not a database\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.mmdb")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	city := geoiptest.Write(t, "GeoIP2-City", countryNets()...)
	asn := geoiptest.Write(t, "GeoLite2-ASN", asnNets()...)
	tests := []struct {
		name           string
		country, asn   string
		role, contains string
	}{
		{"nothing configured", "", "", "", "neither country_db nor asn_db"},
		{"missing file", filepath.Join(dir, "nope.mmdb"), "", geoip.CountryRole, "file does not exist"},
		{"not an MMDB", notMMDB, "", geoip.CountryRole, "not a MaxMind DB"},
		{"empty file", "", empty, geoip.ASNRole, "file is empty"},
		{"directory", dir, "", geoip.CountryRole, "is a directory"},
		{"City database as asn_db", "", city, geoip.ASNRole, `database type "GeoIP2-City" is not an ASN or ISP database`},
		{"ASN database as country_db", asn, "", geoip.CountryRole, `database type "GeoLite2-ASN" is not a Country, City or Enterprise database`},
		{"good country, bad asn", city, notMMDB, geoip.ASNRole, "not a MaxMind DB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := geoip.Open(tt.country, tt.asn)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded; want an error")
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not say %q", err, tt.contains)
			}
			if tt.role == "" {
				return
			}
			oe, ok := errors.AsType[*geoip.OpenError](err)
			if !ok {
				t.Fatalf("error %T is not an *OpenError", err)
			}
			if oe.Role != tt.role {
				t.Errorf("role = %q, want %q", oe.Role, tt.role)
			}
		})
	}
	if _, err := geoip.Open(filepath.Join(dir, "nope.mmdb"), ""); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: errors.Is(err, os.ErrNotExist) = false for %v", err)
	}
}

func TestTypes(t *testing.T) {
	db, err := geoip.Open(geoiptest.Write(t, "GeoLite2-Country", countryNets()...), geoiptest.Write(t, "GeoLite2-ASN", asnNets()...))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := db.Types()
	if got[geoip.CountryRole] != "GeoLite2-Country" || got[geoip.ASNRole] != "GeoLite2-ASN" {
		t.Errorf("Types() = %v", got)
	}
}

// TestLookupCountryCode reads the flat country_code field of
// ip-location-db's country databases (what `iamsentry geoip update`
// fetches), whose type is "country ipvAll".
func TestLookupCountryCode(t *testing.T) {
	path := geoiptest.Write(t, "country ipvAll",
		geoiptest.Net{Prefix: "198.51.100.0/24", CountryCode: "DE"},
		geoiptest.Net{Prefix: "2001:db8::/32", CountryCode: "JP"})
	db, err := geoip.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for addr, want := range map[string]string{"198.51.100.7": "DE", "2001:db8::9": "JP"} {
		loc, ok := db.Lookup(netip.MustParseAddr(addr))
		if !ok || loc.Country != want {
			t.Errorf("Lookup(%s) = %+v, %v; want country %s", addr, loc, ok, want)
		}
	}
}
