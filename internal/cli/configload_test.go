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
