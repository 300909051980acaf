package builtin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// TestAccessKeyEnumerationNewNetworkNamed pins the words a learned
// scanner's finding on a new network uses for it: the network's label is
// built only for the explanation that names it (not for every read a
// quiet scanner makes), and must read as it did when it was built for
// each.
func TestAccessKeyEnumerationNewNetworkNamed(t *testing.T) {
	geo := fakeGeo{
		"203.0.113.0/24":  {Country: "DE", ASN: 64500, ASNOrg: "EXAMPLE-SCANNER-VENDOR"},
		"198.51.100.0/24": {Country: "NL", ASN: 64511, ASNOrg: "EXAMPLE-HOSTING"},
	}
	const home, elsewhere = "203.0.113.10", "198.51.100.9"
	stream := scannerDays(scannerActions, 4, home)
	stream = append(stream, spread(func(a string, at time.Time) dt.Rec {
		return userCall("cspm", "AKIAEXAMPLECSPM0001", a, at).With("sourceIPAddress", elsewhere)
	}, scannerActions, w0.Add(4*24*time.Hour), 3*time.Minute)...)
	for _, tt := range []struct {
		name string
		geo  bool
		want string
	}{
		{name: "by ASN (GeoIP)", geo: true, want: "it reads from AS64511 (EXAMPLE-HOSTING) with aws-cli, new to it"},
		{name: "by prefix (no GeoIP)", want: "it reads from network 198.0.0.0/8 with aws-cli, new to it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := options("")
			if tt.geo {
				cfg.Settings.GeoIP = geo
			}
			d := dt.Must(builtin.NewAccessKeyEnumeration(cfg))
			fs := dt.Only(builtin.AccessKeyEnumerationID, dt.NewWithStore(t, newMemory(t), d).Stream(stream...))
			if len(fs) == 0 {
				t.Fatal("a learned scanner on a new network raised nothing")
			}
			last := fs[len(fs)-1].Explanation
			if !strings.Contains(last, tt.want) {
				t.Errorf("rule: the new network is named in the explanation: %q lacks %q", last, tt.want)
			}
		})
	}
}
