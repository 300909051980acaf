// Package geoiptest writes small MaxMind-format databases at test time, so
// tests of GeoIP lookups need no binary files in the repository.
package geoiptest

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Net is one network of a generated database and what it maps to. Fields
// left zero are not written.
type Net struct {
	Prefix            string // CIDR, e.g. "198.51.100.0/24" or "2001:db8::/32"
	Country           string // country.iso_code
	RegisteredCountry string // registered_country.iso_code
	CountryCode       string // country_code, the flat field of ip-location-db's databases
	ASN               uint32 // autonomous_system_number
	ASNOrg            string // autonomous_system_organization
}

// Write writes a database of type dbType (e.g. "GeoLite2-Country",
// "GeoLite2-ASN", "GeoIP2-City") holding nets to a file in a temporary
// directory of t and returns its path. Reserved ranges (RFC 5737
// documentation networks included) are allowed, so tests can use them.
func Write(t testing.TB, dbType string, nets ...Net) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            dbType,
		RecordSize:              24,
		IncludeReservedNetworks: true,
	})
	if err != nil {
		t.Fatalf("geoiptest: %v", err)
	}
	for _, n := range nets {
		p, err := netip.ParsePrefix(n.Prefix)
		if err != nil {
			t.Fatalf("geoiptest: %v", err)
		}
		ipnet := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
		if err := tree.Insert(ipnet, record(n)); err != nil {
			t.Fatalf("geoiptest: insert %s: %v", n.Prefix, err)
		}
	}
	path := filepath.Join(t.TempDir(), dbType+".mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("geoiptest: %v", err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		f.Close()
		t.Fatalf("geoiptest: write %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("geoiptest: %v", err)
	}
	return path
}

func record(n Net) mmdbtype.Map {
	m := mmdbtype.Map{}
	if n.Country != "" {
		m["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(n.Country)}
	}
	if n.RegisteredCountry != "" {
		m["registered_country"] = mmdbtype.Map{"iso_code": mmdbtype.String(n.RegisteredCountry)}
	}
	if n.CountryCode != "" {
		m["country_code"] = mmdbtype.String(n.CountryCode)
	}
	if n.ASN != 0 {
		m["autonomous_system_number"] = mmdbtype.Uint32(n.ASN)
	}
	if n.ASNOrg != "" {
		m["autonomous_system_organization"] = mmdbtype.String(n.ASNOrg)
	}
	return m
}
