// Package realcorpustest builds, at test time, what a realistic corpus
// needs besides its records: GeoIP databases that know its networks.
package realcorpustest

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors/geoip/geoiptest"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
)

// GeoIP writes a country and an ASN database covering realcorpus.Networks
// into temporary directories of tb and returns their paths.
func GeoIP(tb testing.TB) (countryDB, asnDB string) {
	tb.Helper()
	var country, asn []geoiptest.Net
	for _, n := range realcorpus.Networks {
		country = append(country, geoiptest.Net{Prefix: n.Prefix, Country: n.Country, RegisteredCountry: n.Country})
		asn = append(asn, geoiptest.Net{Prefix: n.Prefix, ASN: n.ASN, ASNOrg: n.ASNOrg})
	}
	return geoiptest.Write(tb, "GeoLite2-Country", country...), geoiptest.Write(tb, "GeoLite2-ASN", asn...)
}

// CPUTime is the CPU time the process has used so far, user and system,
// on every thread: what a benchmark divides events by to get events per
// CPU-second, which a busy shared machine disturbs far less than wall time.
func CPUTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Config returns a configuration (YAML, as serve and scan read it) for a
// realistic corpus, with every built-in detector at work: its account,
// its trusted networks (office, CI, AWS; people's homes are not), the admin role it has as
// privileged, and GeoIP databases of its networks written for tb.
func Config(tb testing.TB) string {
	tb.Helper()
	country, asn := GeoIP(tb)
	var cidrs []string
	for _, n := range realcorpus.Networks {
		if n.Trusted {
			cidrs = append(cidrs, strconv.Quote(n.Prefix))
		}
	}
	return "accounts: [\"" + realcorpus.Account + "\"]\n" +
		"trusted_networks:\n  cidrs: [" + strings.Join(cidrs, ", ") + "]\n" +
		"privileged_roles: [\"arn:aws:iam::*:role/OrganizationAccountAccessRole\"]\n" +
		"geoip:\n  country_db: " + strconv.Quote(country) + "\n  asn_db: " + strconv.Quote(asn) + "\n"
}
