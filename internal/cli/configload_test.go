package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/detectors/geoip/geoiptest"
	"github.com/iamsentry/iamsentry/internal/cli"
)

// TestConfigGeoIPAndRedis checks what the command line opens or parses
// from a configuration file (config only checks it): the GeoIP databases
// and redis.url. Their problems are errors of the key, with its line, like
// any other, for config validate, serve and scan alike.
func TestConfigGeoIPAndRedis(t *testing.T) {
	country := geoiptest.Write(t, "GeoLite2-Country", geoiptest.Net{Prefix: "203.0.113.0/24", Country: "NL"})
	asn := geoiptest.Write(t, "GeoLite2-ASN", geoiptest.Net{Prefix: "203.0.113.0/24", ASN: 64500, ASNOrg: "Example"})
	notMMDB := filepath.Join(t.TempDir(), "GeoLite2-Country.mmdb")
	if err := os.WriteFile(notMMDB, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}

	good := writeFile(t, "good.yaml", "geoip:\n  country_db: "+country+"\n  asn_db: "+asn+"\nredis:\n  url: redis://scorer:hunter2@h:1/2\n")
	code, out, errs := runCLI(t, "", "config", "validate", good)
	if code != cli.ExitOK {
		t.Fatalf("good file: exit %d\n%s%s", code, out, errs)
	}
	if strings.Contains(out, "note: "+builtin.AccessKeyNewLocationID+":") {
		t.Errorf("with databases configured, new-location still notes a fallback:\n%s", out)
	}
	if !strings.Contains(out, "redis: redis://scorer:xxxxx@h:1/2 (redis.url") || strings.Contains(out, "hunter2") {
		t.Errorf("the Redis setting must be shown, password hidden:\n%s", out)
	}

	for name, tt := range map[string]struct{ doc, want string }{
		"missing file": {"geoip:\n  country_db: /nonexistent/GeoLite2-Country.mmdb\n",
			`line 2: geoip.country_db: "/nonexistent/GeoLite2-Country.mmdb": file does not exist`},
		"wrong type": {"accounts: []\ngeoip:\n  country_db: " + country + "\n  asn_db: " + country + "\n",
			`line 4: geoip.asn_db: "` + country + `": database type "GeoLite2-Country" is not an ASN or ISP database`},
		"not an mmdb":    {"geoip:\n  country_db: " + notMMDB + "\n", "line 2: geoip.country_db: \"" + notMMDB + "\": not a MaxMind DB (.mmdb) file"},
		"bad redis url":  {"redis:\n  url: \"redis://h:1?colour=red\"\n", `line 2: redis.url: redis: URL query parameter "colour" is unknown`},
		"two redis errs": {"\nredis:\n  url: \"rediss://h:1,h:2?master_name=m&cluster=true\"\n", "line 3: redis.url: redis: cluster and master_name exclude each other"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := writeFile(t, "bad.yaml", tt.doc+"detectors:\n  nope: {}\n")
			code, out, _ := runCLI(t, "", "config", "validate", cfg)
			if code != cli.ExitError || !strings.Contains(out, "error: "+tt.want) {
				t.Errorf("config validate: exit %d, want 1 and %q in:\n%s", code, tt.want, out)
			}
			if !strings.Contains(out, "detectors.nope: unknown detector") {
				t.Errorf("config validate must report every problem together:\n%s", out)
			}
			// serve logs the error as a quoted value: look for its key.
			at := strings.Join(strings.SplitAfterN(tt.want, ": ", 3)[:2], "")
			for _, cmd := range [][]string{{"scan", "--config", cfg, "-"}, {"serve", "--config", cfg, "--listen", "127.0.0.1:0", "--log-format", "text"}} {
				if code, _, errs := runCLI(t, "", cmd...); code != cli.ExitError || !strings.Contains(errs, at) {
					t.Errorf("%s: exit %d, want 1 and %q in:\n%s", cmd[0], code, at, errs)
				}
			}
		})
	}
}

// TestConfigGeoIPDefaultPath checks that serve and scan use the databases
// `iamsentry geoip update` left in the default directory when the
// configuration names none, say so, and that the configuration wins.
func TestConfigGeoIPDefaultPath(t *testing.T) {
	dir := t.TempDir()
	copyTo := func(src, name string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyTo(geoiptest.Write(t, "country ipvAll", geoiptest.Net{Prefix: "203.0.113.0/24", CountryCode: "NL"}), "country.mmdb")
	copyTo(geoiptest.Write(t, "iamsentry-ASN", geoiptest.Net{Prefix: "203.0.113.0/24", ASN: 64500, ASNOrg: "Example"}), "asn.mmdb")
	plain := writeFile(t, "plain.yaml", "accounts: [\"111122223333\"]\n")

	t.Setenv("IAMSENTRY_GEOIP_DIR", dir)
	code, out, errs := runCLI(t, "", "config", "validate", plain)
	if code != cli.ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if want := "GeoIP: country_db " + filepath.Join(dir, "country.mmdb") + " (country ipvAll), asn_db " + filepath.Join(dir, "asn.mmdb") + " (iamsentry-ASN) from the default path"; !strings.Contains(out, want) {
		t.Errorf("want %q in:\n%s", want, out)
	}
	if strings.Contains(out, "note: "+builtin.AccessKeyNewLocationID+":") {
		t.Errorf("with default databases, new-location still notes a fallback:\n%s", out)
	}
	if _, _, errs := runCLI(t, "", "scan", "--config", plain, "-"); !strings.Contains(errs, "from the default path "+dir) {
		t.Errorf("scan does not say which databases it uses:\n%s", errs)
	}

	// The configuration's databases win over the default path.
	own := geoiptest.Write(t, "GeoLite2-ASN", geoiptest.Net{Prefix: "203.0.113.0/24", ASN: 64501})
	named := writeFile(t, "named.yaml", "geoip:\n  asn_db: "+own+"\n")
	if _, out, _ := runCLI(t, "", "config", "validate", named); !strings.Contains(out, "GeoIP: asn_db "+own+" (GeoLite2-ASN) from the configuration") {
		t.Errorf("configured database not preferred:\n%s", out)
	}

	// A broken default database is an error naming where it was found.
	if err := os.WriteFile(filepath.Join(dir, "asn.mmdb"), []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, "", "config", "validate", plain); code != cli.ExitError || !strings.Contains(out, "default GeoIP database in "+dir) {
		t.Errorf("broken default database: exit %d\n%s", code, out)
	}

	// Nothing there: the fallback, and how to fetch databases.
	t.Setenv("IAMSENTRY_GEOIP_DIR", t.TempDir())
	if _, out, _ := runCLI(t, "", "config", "validate", plain); !strings.Contains(out, "detectors use network prefixes (`make geoip`") {
		t.Errorf("empty default directory:\n%s", out)
	}
	t.Setenv("IAMSENTRY_GEOIP_DIR", "off")
	if _, out, _ := runCLI(t, "", "config", "validate", plain); !strings.Contains(out, "GeoIP: none ($IAMSENTRY_GEOIP_DIR=off)") {
		t.Errorf("turned off:\n%s", out)
	}
}
