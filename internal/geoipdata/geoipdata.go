// Package geoipdata fetches the free GeoIP data iamsentry uses by default
// and finds it again at start-up.
//
// The data comes from the ip-location-db project, published on the npm
// registry: the country database as an MMDB
// (@ip-location-db/geo-whois-asn-country-mmdb, CC0 for the compilation,
// built from RIR WHOIS data under CC BY 4.0 by the NRO), and the
// IP-to-ASN table as CSV (@ip-location-db/asn, CC BY 4.0: RouteViews,
// the five RIRs via the NRO, and DB-IP's IP to ASN Lite), which Update
// turns into an ASN MMDB with mmdbwriter. Versions and tarball digests are
// pinned in Sources; a NOTICE with the attribution is written next to the
// databases.
package geoipdata

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// File names of the databases in a data directory.
const (
	CountryFile = "country.mmdb"
	ASNFile     = "asn.mmdb"
	NoticeFile  = "NOTICE"
)

// EnvDir names the environment variable that overrides the default data
// directory; the value "off" turns the default databases off.
const EnvDir = "IAMSENTRY_GEOIP_DIR"

// Source is one pinned npm package.
type Source struct {
	Package   string // npm package name
	Version   string
	Tarball   string // registry URL of the package tarball
	Integrity string // the registry's dist.integrity (sha512, base64)
	License   string
	Credit    string // attribution, as the licence asks
}

// Sources are the packages Update fetches. To move to newer data, take
// version, dist.tarball and dist.integrity from `npm view <package>`.
var Sources = struct{ Country, ASN Source }{
	Country: Source{
		Package:   "@ip-location-db/geo-whois-asn-country-mmdb",
		Version:   "2.3.2026061719",
		Tarball:   "https://registry.npmjs.org/@ip-location-db/geo-whois-asn-country-mmdb/-/geo-whois-asn-country-mmdb-2.3.2026061719.tgz",
		Integrity: "sha512-xemBDNQl4mCYDuVbqe3jKGKsVDykZGkfvebhtOh/3VGLadq8vsp7t7ontpMUt3hH7sAGT0eLDyJ99SV+0waxZg==",
		License:   "CC0 1.0 (compilation); WHOIS data CC BY 4.0 by the NRO",
		Credit:    "ip-location-db geo-whois-asn-country (https://github.com/sapics/ip-location-db), from RIR WHOIS data by the NRO (https://www.nro.net/), CC BY 4.0",
	},
	ASN: Source{
		Package:   "@ip-location-db/asn",
		Version:   "2.3.2026061719",
		Tarball:   "https://registry.npmjs.org/@ip-location-db/asn/-/asn-2.3.2026061719.tgz",
		Integrity: "sha512-PpqYi7wyEyWwunXBtl+y3Vi403SvNywotWwvmiYCOUtE0SVol/Sf492Ee+eErEznmGapxEQB2SAfrpXuZ9a+vQ==",
		License:   "CC BY 4.0",
		Credit:    "ip-location-db asn (https://github.com/sapics/ip-location-db), CC BY 4.0, from RouteViews (University of Oregon), the five RIRs via the NRO, and DB-IP's IP to ASN Lite (https://db-ip.com)",
	},
}

// DefaultDir returns the directory serve and scan look in when the
// configuration names no database, and where `iamsentry geoip update`
// writes: $IAMSENTRY_GEOIP_DIR when set, else /var/lib/iamsentry/geoip
// when it holds databases, else $XDG_DATA_HOME/iamsentry/geoip
// (~/.local/share/iamsentry/geoip). It returns "" when EnvDir is "off".
func DefaultDir() string {
	if d, ok := os.LookupEnv(EnvDir); ok {
		if d == "off" {
			return ""
		}
		return d
	}
	if _, err := os.Stat(filepath.Join("/var/lib/iamsentry/geoip", ASNFile)); err == nil {
		return "/var/lib/iamsentry/geoip"
	}
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "/var/lib/iamsentry/geoip"
		}
		data = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(data, "iamsentry", "geoip")
}

// Find returns the paths of the databases present in dir ("" for one that
// is absent).
func Find(dir string) (country, asn string) {
	if dir == "" {
		return "", ""
	}
	if p := filepath.Join(dir, CountryFile); isFile(p) {
		country = p
	}
	if p := filepath.Join(dir, ASNFile); isFile(p) {
		asn = p
	}
	return country, asn
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Size() > 0
}

// Update downloads the pinned packages, checks their digests, writes the
// country database, builds the ASN database and writes the NOTICE, each
// through a temporary file renamed into place, so a reader never sees a
// half-written database. log receives one line per step.
func Update(ctx context.Context, client *http.Client, dir string, log io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("geoip: %w", err)
	}
	fmt.Fprintf(log, "fetching %s@%s\n", Sources.Country.Package, Sources.Country.Version)
	country, err := fetch(ctx, client, Sources.Country, "package/geo-whois-asn-country.mmdb")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, CountryFile), func(w io.Writer) error {
		_, err := w.Write(country["package/geo-whois-asn-country.mmdb"])
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(log, "fetching %s@%s\n", Sources.ASN.Package, Sources.ASN.Version)
	asn, err := fetch(ctx, client, Sources.ASN, "package/asn-ipv4.csv", "package/asn-ipv6.csv")
	if err != nil {
		return err
	}
	fmt.Fprintln(log, "building the ASN database")
	if err := writeAtomic(filepath.Join(dir, ASNFile), func(w io.Writer) error {
		return BuildASN(w, bytes.NewReader(asn["package/asn-ipv4.csv"]), bytes.NewReader(asn["package/asn-ipv6.csv"]))
	}); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, NoticeFile), func(w io.Writer) error {
		_, err := io.WriteString(w, Notice())
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(log, "wrote %s, %s and %s in %s\n", CountryFile, ASNFile, NoticeFile, dir)
	return nil
}

// Notice is the attribution the data's licences ask for.
func Notice() string {
	var b strings.Builder
	b.WriteString("The GeoIP databases in this directory were made by `iamsentry geoip update` from:\n\n")
	for _, s := range []Source{Sources.Country, Sources.ASN} {
		fmt.Fprintf(&b, "- %s@%s\n  %s\n  Licence: %s\n", s.Package, s.Version, s.Credit, s.License)
	}
	b.WriteString("\nasn.mmdb is a modification: the CSV ranges of @ip-location-db/asn written as an MMDB\n" +
		"with autonomous_system_number and autonomous_system_organization, otherwise unchanged.\n" +
		"CC BY 4.0: https://creativecommons.org/licenses/by/4.0/ — CC0: https://creativecommons.org/publicdomain/zero/1.0/\n")
	return b.String()
}

// maxTarball bounds a download: the packages are tens of MB.
const maxTarball = 256 << 20

// fetch downloads src, checks it against src.Integrity and returns the
// named files of the tarball.
func fetch(ctx context.Context, client *http.Client, src Source, names ...string) (map[string][]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.Tarball, nil)
	if err != nil {
		return nil, fmt.Errorf("geoip: %s: %w", src.Package, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("geoip: fetch %s: %w", src.Package, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("geoip: fetch %s: %s from %s", src.Package, resp.Status, src.Tarball)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTarball+1))
	if err != nil {
		return nil, fmt.Errorf("geoip: fetch %s: %w", src.Package, err)
	}
	if len(body) > maxTarball {
		return nil, fmt.Errorf("geoip: fetch %s: tarball larger than %d MiB", src.Package, maxTarball>>20)
	}
	if err := checkIntegrity(body, src.Integrity); err != nil {
		return nil, fmt.Errorf("geoip: %s@%s: %w", src.Package, src.Version, err)
	}
	return untar(body, names...)
}

// checkIntegrity compares data with an npm dist.integrity value.
func checkIntegrity(data []byte, integrity string) error {
	want, ok := strings.CutPrefix(integrity, "sha512-")
	if !ok {
		return fmt.Errorf("integrity %q is not sha512", integrity)
	}
	sum := sha512.Sum512(data)
	if got := base64.StdEncoding.EncodeToString(sum[:]); got != want {
		return fmt.Errorf("digest mismatch: got sha512-%s, pinned %s", got, integrity)
	}
	return nil
}

func untar(tgz []byte, names ...string) (map[string][]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, fmt.Errorf("geoip: tarball: %w", err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("geoip: tarball: %w", err)
		}
		if !want[h.Name] {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, maxTarball))
		if err != nil {
			return nil, fmt.Errorf("geoip: tarball %s: %w", h.Name, err)
		}
		out[h.Name] = b
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("geoip: tarball has no %s", n)
		}
	}
	return out, nil
}

// BuildASN writes an ASN MMDB (database type "iamsentry-ASN", records
// shaped like GeoLite2-ASN) from ip-location-db asn CSV tables: lines of
// first address, last address, AS number, AS organisation. A malformed line
// is an error naming its table and line.
func BuildASN(w io.Writer, tables ...io.Reader) error {
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: "iamsentry-ASN",
		Description:  map[string]string{"en": "IP to ASN from ip-location-db asn (CC BY 4.0)"},
		RecordSize:   28,
		IPVersion:    6,
		// The tables do not hold reserved ranges; allow them anyway
		// so a table that does is not an error.
		IncludeReservedNetworks: true,
		// The IPv6 table has its own rows for 2001::/32 (Teredo) and
		// 2002::/16 (6to4); aliasing them to IPv4 would refuse those
		// rows. IPv4 lookups do not need the aliases.
		DisableIPv4Aliasing: true,
		BuildEpoch:          time.Now().Unix(),
	})
	if err != nil {
		return fmt.Errorf("geoip: %w", err)
	}
	for i, t := range tables {
		r := csv.NewReader(t)
		r.FieldsPerRecord = 4
		r.ReuseRecord = true
		for line := 1; ; line++ {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("geoip: ASN table %d: %w", i+1, err)
			}
			first, err1 := netip.ParseAddr(rec[0])
			last, err2 := netip.ParseAddr(rec[1])
			asn, err3 := strconv.ParseUint(rec[2], 10, 32)
			if err := errors.Join(err1, err2, err3); err != nil {
				return fmt.Errorf("geoip: ASN table %d line %d: %w", i+1, line, err)
			}
			if first.Is4() != last.Is4() || last.Less(first) {
				return fmt.Errorf("geoip: ASN table %d line %d: range %s-%s is not ordered within one family", i+1, line, first, last)
			}
			value := mmdbtype.Map{
				"autonomous_system_number":       mmdbtype.Uint32(asn),
				"autonomous_system_organization": mmdbtype.String(rec[3]),
			}
			if err := tree.InsertRange(net.IP(first.AsSlice()), net.IP(last.AsSlice()), value); err != nil {
				return fmt.Errorf("geoip: ASN table %d line %d: %w", i+1, line, err)
			}
		}
	}
	if _, err := tree.WriteTo(w); err != nil {
		return fmt.Errorf("geoip: write the ASN database: %w", err)
	}
	return nil
}

func writeAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("geoip: %w", err)
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("geoip: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("geoip: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("geoip: %w", err)
	}
	return nil
}
