package geoipdata

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/detectors/geoip"
	"github.com/iamsentry/iamsentry/detectors/geoip/geoiptest"
)

const ipv4Table = `3.5.140.0,3.5.143.255,16509,"Amazon.com, Inc."
84.128.0.0,84.191.255.255,3320,Deutsche Telekom AG
185.220.100.0,185.220.101.255,60729,Stiftung Erneuerbare Freiheit
`

const ipv6Table = `2001::,2001::ffff:ffff:ffff:ffff:ffff:ffff,6939,Hurricane Electric LLC
2a01:4f8::,2a01:4f8:ffff:ffff:ffff:ffff:ffff:ffff,24940,Hetzner Online GmbH
`

func TestBuildASN(t *testing.T) {
	path := filepath.Join(t.TempDir(), ASNFile)
	var buf bytes.Buffer
	if err := BuildASN(&buf, strings.NewReader(ipv4Table), strings.NewReader(ipv6Table)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := geoip.Open("", path)
	if err != nil {
		t.Fatalf("the built database does not open as asn_db: %v", err)
	}
	defer db.Close()
	for addr, want := range map[string]uint32{
		"3.5.140.2": 16509, "3.5.143.255": 16509, "84.150.7.1": 3320, "185.220.101.9": 60729,
		"2a01:4f8:c0c::1": 24940, "2001::1": 6939, "3.5.144.0": 0, "8.8.8.8": 0,
	} {
		loc, _ := db.Lookup(netip.MustParseAddr(addr))
		if loc.ASN != want {
			t.Errorf("Lookup(%s).ASN = %d, want %d", addr, loc.ASN, want)
		}
	}
	if loc, _ := db.Lookup(netip.MustParseAddr("3.5.140.2")); loc.ASNOrg != "Amazon.com, Inc." {
		t.Errorf("organisation = %q, want the quoted CSV field unquoted", loc.ASNOrg)
	}
}

func TestBuildASNRejectsBadRows(t *testing.T) {
	for name, table := range map[string]string{
		"three fields":   "1.0.0.0,1.0.0.255,13335\n",
		"bad address":    "1.0.0.x,1.0.0.255,13335,Cloudflare\n",
		"bad number":     "1.0.0.0,1.0.0.255,AS13335,Cloudflare\n",
		"reversed range": "1.0.0.255,1.0.0.0,13335,Cloudflare\n",
		"mixed families": "1.0.0.0,2001::1,13335,Cloudflare\n",
	} {
		t.Run(name, func(t *testing.T) {
			err := BuildASN(&bytes.Buffer{}, strings.NewReader(ipv4Table+table))
			if err == nil || !strings.Contains(err.Error(), "ASN table 1") {
				t.Errorf("err = %v, want an error naming the table", err)
			}
		})
	}
}

func tarball(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func integrity(b []byte) string {
	sum := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

// TestUpdate runs Update against a local registry serving small packages:
// the databases and the NOTICE land in the directory, open as geoip
// databases, and a tarball whose digest differs from the pin is refused
// without touching what is there.
func TestUpdate(t *testing.T) {
	countryDB, err := os.ReadFile(geoiptest.Write(t, "country ipvAll", geoiptest.Net{Prefix: "84.128.0.0/10", CountryCode: "DE"}))
	if err != nil {
		t.Fatal(err)
	}
	countryTGZ := tarball(t, map[string][]byte{"package/geo-whois-asn-country.mmdb": countryDB, "package/README.md": []byte("x")})
	asnTGZ := tarball(t, map[string][]byte{"package/asn-ipv4.csv": []byte(ipv4Table), "package/asn-ipv6.csv": []byte(ipv6Table)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/country.tgz":
			w.Write(countryTGZ)
		case "/asn.tgz":
			w.Write(asnTGZ)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	saved := Sources
	t.Cleanup(func() { Sources = saved })
	Sources.Country.Tarball, Sources.Country.Integrity = srv.URL+"/country.tgz", integrity(countryTGZ)
	Sources.ASN.Tarball, Sources.ASN.Integrity = srv.URL+"/asn.tgz", integrity(asnTGZ)

	dir := filepath.Join(t.TempDir(), "geoip")
	var log bytes.Buffer
	if err := Update(context.Background(), srv.Client(), dir, &log); err != nil {
		t.Fatalf("Update: %v\n%s", err, log.String())
	}
	country, asn := Find(dir)
	if country == "" || asn == "" {
		t.Fatalf("Find(%s) = %q, %q after Update", dir, country, asn)
	}
	db, err := geoip.Open(country, asn)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := db.Lookup(netip.MustParseAddr("84.150.7.1"))
	db.Close()
	if loc.Country != "DE" || loc.ASN != 3320 {
		t.Errorf("Lookup = %+v, want DE and AS3320", loc)
	}
	notice, err := os.ReadFile(filepath.Join(dir, NoticeFile))
	if err != nil || !strings.Contains(string(notice), "CC BY 4.0") || !strings.Contains(string(notice), Sources.ASN.Version) {
		t.Errorf("NOTICE = %q, %v; want the attribution with versions", notice, err)
	}

	before, _ := os.ReadFile(asn)
	Sources.ASN.Integrity = integrity([]byte("something else"))
	err = Update(context.Background(), srv.Client(), dir, &log)
	if err == nil || !strings.Contains(err.Error(), "digest mismatch") {
		t.Errorf("tampered tarball: err = %v, want a digest mismatch", err)
	}
	if after, _ := os.ReadFile(asn); !bytes.Equal(before, after) {
		t.Error("a refused update changed the ASN database")
	}

	Sources.ASN.Tarball = srv.URL + "/missing.tgz"
	if err := Update(context.Background(), srv.Client(), dir, &log); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing tarball: err = %v, want the HTTP status", err)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv(EnvDir, "/srv/geo")
	if got := DefaultDir(); got != "/srv/geo" {
		t.Errorf("DefaultDir() = %q with %s set", got, EnvDir)
	}
	t.Setenv(EnvDir, "off")
	if got := DefaultDir(); got != "" {
		t.Errorf("DefaultDir() = %q with %s=off, want none", got, EnvDir)
	}
	if c, a := Find(""); c != "" || a != "" {
		t.Errorf("Find(\"\") = %q, %q", c, a)
	}
	if c, a := Find(t.TempDir()); c != "" || a != "" {
		t.Errorf("Find(empty dir) = %q, %q", c, a)
	}
}
