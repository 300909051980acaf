package loadgen

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/iamsentry/iamsentry/internal/realcorpus"
)

// Realistic returns the records of internal/realcorpus's month for seed at
// its default size, in event-time order, cut to the first events of them
// when events is positive and smaller.
func Realistic(seed uint64, events int) [][]byte {
	recs := realcorpus.Generate(realcorpus.Options{Seed: seed}).Records
	if events > 0 && events < len(recs) {
		recs = recs[:events]
	}
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = r.JSON
	}
	return out
}

// WriteRealisticConfig writes into dir the configuration a server needs to
// score the realistic corpus as its benchmarks do, and returns the
// configuration file's path. It holds what realcorpustest.Config holds (the
// corpus's account, its trusted networks, its privileged role) and GeoIP
// databases of realcorpus.Networks written into dir: the corpus uses
// documentation and benchmark ranges that real databases do not know, and
// realcorpustest is for tests only, so a server spawned outside `go test`
// gets its databases here.
func WriteRealisticConfig(dir string) (string, error) {
	countryDB := filepath.Join(dir, "GeoLite2-Country.mmdb")
	asnDB := filepath.Join(dir, "GeoLite2-ASN.mmdb")
	err := writeMMDB(countryDB, "GeoLite2-Country", func(n realcorpus.Network) mmdbtype.Map {
		iso := mmdbtype.Map{"iso_code": mmdbtype.String(n.Country)}
		return mmdbtype.Map{"country": iso, "registered_country": iso}
	})
	if err != nil {
		return "", err
	}
	err = writeMMDB(asnDB, "GeoLite2-ASN", func(n realcorpus.Network) mmdbtype.Map {
		return mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(n.ASN),
			"autonomous_system_organization": mmdbtype.String(n.ASNOrg),
		}
	})
	if err != nil {
		return "", err
	}
	var cidrs []string
	for _, n := range realcorpus.Networks {
		if n.Trusted {
			cidrs = append(cidrs, strconv.Quote(n.Prefix))
		}
	}
	yaml := "accounts: [\"" + realcorpus.Account + "\"]\n" +
		"trusted_networks:\n  cidrs: [" + strings.Join(cidrs, ", ") + "]\n" +
		"privileged_roles: [\"arn:aws:iam::*:role/OrganizationAccountAccessRole\"]\n" +
		"geoip:\n  country_db: " + strconv.Quote(countryDB) + "\n  asn_db: " + strconv.Quote(asnDB) + "\n"
	path := filepath.Join(dir, "realistic.yaml")
	return path, os.WriteFile(path, []byte(yaml), 0o644)
}

// writeMMDB writes a MaxMind-format database of dbType mapping each of
// realcorpus.Networks to what data gives for it.
func writeMMDB(path, dbType string, data func(realcorpus.Network) mmdbtype.Map) error {
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		return err
	}
	for _, n := range realcorpus.Networks {
		p, err := netip.ParsePrefix(n.Prefix)
		if err != nil {
			return err
		}
		ipnet := &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
		if err := tree.Insert(ipnet, data(n)); err != nil {
			return fmt.Errorf("%s: insert %s: %w", dbType, n.Prefix, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := tree.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}
