// Package benigntest builds, at test time, what scoring a benign corpus
// needs besides its records: GeoIP databases that know its networks, and
// the three configurations make noise compares.
package benigntest

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/detectors/geoip/geoiptest"
	"github.com/iamsentry/iamsentry/internal/benign"
)

// GeoIP writes a country and an ASN database covering benign.Networks
// into temporary directories of tb and returns their paths.
func GeoIP(tb testing.TB) (countryDB, asnDB string) {
	tb.Helper()
	var country, asn []geoiptest.Net
	for _, n := range benign.Networks {
		country = append(country, geoiptest.Net{Prefix: n.Prefix, Country: n.Country, RegisteredCountry: n.Country})
		asn = append(asn, geoiptest.Net{Prefix: n.Prefix, ASN: n.ASN, ASNOrg: n.ASNOrg})
	}
	return geoiptest.Write(tb, "GeoLite2-Country", country...), geoiptest.Write(tb, "GeoLite2-ASN", asn...)
}

// Defaults is the built-in configuration: no file at all.
func Defaults() string { return "" }

// Basic is the defaults plus what every deployment should set: the
// organisation's accounts and its trusted networks (offices, the VPC
// endpoints of its runners). People's homes, GitHub's runners and AWS as a
// whole are not trusted networks.
func Basic() string {
	var cidrs []string
	for _, n := range benign.Networks {
		if n.Kind == benign.NetOffice {
			cidrs = append(cidrs, strconv.Quote(n.Prefix))
		}
	}
	return "accounts: [\"" + strings.Join(benign.Accounts, "\", \"") + "\"]\n" +
		"trusted_networks:\n  cidrs: [" + strings.Join(cidrs, ", ") + "]\n" +
		"  vpc_endpoints: [\"vpce-0a1b2c3d4e5f6a7b8\", \"vpce-0f9e8d7c6b5a49382\"]\n"
}

// Recommended is internal/benign/recommended.yaml with its geoip key
// pointing at databases written for tb.
func Recommended(tb testing.TB) string {
	tb.Helper()
	data, err := os.ReadFile(RecommendedPath())
	if err != nil {
		tb.Fatalf("benigntest: %v", err)
	}
	country, asn := GeoIP(tb)
	return string(data) + "geoip:\n  country_db: " + strconv.Quote(country) + "\n  asn_db: " + strconv.Quote(asn) + "\n"
}

// RecommendedPath is where the recommended configuration lives.
func RecommendedPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "recommended.yaml")
}
