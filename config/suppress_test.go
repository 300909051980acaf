package config_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
)

func TestSuppressEveryField(t *testing.T) {
	doc := `
geoip:
  asn_db: /var/lib/GeoIP/GeoLite2-ASN.mmdb
suppress:
  - detector: admin-policy-attached
    principal: "arn:aws:iam::*:role/terraform-*"
    event_name: [AttachRolePolicy, "Put*Policy"]
    target: "app-*"
    user_agent: "*Terraform/*"
    invoked_by: "cloudformation.amazonaws.com"
    source_cidr: 192.0.2.0/24
    source_asn: AS16509
    account: "111122223333"
    expires: 2027-01-31
    reason: everything at once
  - event_name: GetCallerIdentity
    source_asn: 3320
    reason: one pattern, a bare number
`
	b, err := config.ParseAndBuild([]byte(doc), specs())
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Suppress) != 2 {
		t.Fatalf("suppress = %+v", b.Suppress)
	}
	s := b.Suppress[0]
	want := detectors.Suppression{
		Entry: 0, Detector: "admin-policy-attached", Principal: "arn:aws:iam::*:role/terraform-*",
		EventNames: []string{"AttachRolePolicy", "Put*Policy"}, Targets: []string{"app-*"},
		UserAgent: "*Terraform/*", InvokedBy: "cloudformation.amazonaws.com",
		SourceCIDR: netip.MustParsePrefix("192.0.2.0/24"), SourceASN: 16509, Account: "111122223333",
		Expires: time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), Reason: "everything at once",
	}
	if s.String() != want.String() || !s.Expires.Equal(want.Expires) {
		t.Errorf("entry 0 =\n %v\nwant\n %v", s.String(), want.String())
	}
	if e := b.Suppress[1]; !slices.Equal(e.EventNames, []string{"GetCallerIdentity"}) || e.SourceASN != 3320 || e.Detector != "*" {
		t.Errorf("entry 1 = %v", e.String())
	}
}

// An expired entry loads, with a warning naming it; an entry that has not
// expired loads without one.
func TestSuppressExpiredWarns(t *testing.T) {
	doc := `
suppress:
  - principal: "arn:aws:iam::*:role/migration"
    expires: "2020-03-01"
    reason: the 2020 migration
  - principal: "arn:aws:iam::*:role/later"
    expires: 2999-12-31
    reason: far away
`
	b, err := config.ParseAndBuild([]byte(doc), specs())
	if err != nil {
		t.Fatalf("an expired entry is a warning, not an error: %v", err)
	}
	if len(b.Suppress) != 2 {
		t.Fatalf("suppress = %+v", b.Suppress)
	}
	if len(b.Warnings) != 1 || !strings.HasPrefix(b.Warnings[0], "suppress[0]: expired on 2020-03-01") ||
		!strings.Contains(b.Warnings[0], "the 2020 migration") {
		t.Errorf("warnings = %q, want one on suppress[0]", b.Warnings)
	}
}

func TestSuppressErrors(t *testing.T) {
	checkErrors(t, []errorCase{
		{"detector only", "suppress:\n  - detector: admin-policy-attached\n    reason: r\n", 2, "suppress[0]",
			"matches every finding of admin-policy-attached; name at least one of principal, event_name, target, user_agent, invoked_by, source_cidr, source_asn or account (to mute a detector, set detectors.admin-policy-attached.enabled: false)"},
		{"expires narrows nothing", "suppress:\n  - expires: 2030-01-01\n    reason: r\n", 2, "suppress[0]", "matches every finding of every detector"},
		{"event name as IAM action", "suppress:\n  - reason: r\n    event_name: [ListUsers, \"iam:AttachRolePolicy\"]\n", 3, "suppress[0].event_name[1]",
			`"iam:AttachRolePolicy" is an IAM action; event_name takes CloudTrail's eventName ("AttachRolePolicy")`},
		{"event name with spaces", "suppress:\n  - reason: r\n    event_name: List Users\n", 3, "suppress[0].event_name[0]", "not an event name pattern"},
		{"event name a mapping", "suppress:\n  - reason: r\n    event_name: {a: b}\n", 3, "suppress[0].event_name", "want a pattern or a list of patterns, not a mapping"},
		{"event name list of lists", "suppress:\n  - reason: r\n    event_name: [[a]]\n", 3, "suppress[0].event_name[0]", "want a single value, not a list"},
		{"empty target", "suppress:\n  - reason: r\n    target: [\"app-*\", \"\"]\n", 3, "suppress[0].target[1]", "empty pattern"},
		{"asn without database", "suppress:\n  - reason: r\n    source_asn: 16509\n", 3, "suppress[0].source_asn", "needs an ASN database (geoip.asn_db)"},
		{"asn with country db only", "geoip:\n  country_db: /c.mmdb\nsuppress:\n  - reason: r\n    source_asn: 16509\n", 5, "suppress[0].source_asn", "needs an ASN database (geoip.asn_db)"},
		{"asn not a number", "geoip:\n  asn_db: /a.mmdb\nsuppress:\n  - reason: r\n    source_asn: Amazon\n", 5, "suppress[0].source_asn", `"Amazon" is not an autonomous system number`},
		{"asn zero", "geoip:\n  asn_db: /a.mmdb\nsuppress:\n  - reason: r\n    source_asn: 0\n", 5, "suppress[0].source_asn", "not an autonomous system number"},
		{"asn too big", "geoip:\n  asn_db: /a.mmdb\nsuppress:\n  - reason: r\n    source_asn: 4294967296\n", 5, "suppress[0].source_asn", "not an autonomous system number"},
		{"expires not a date", "suppress:\n  - account: \"111122223333\"\n    reason: r\n    expires: next week\n", 4, "suppress[0].expires", `"next week" is not a date (want YYYY-MM-DD`},
		{"expires a timestamp", "suppress:\n  - account: \"111122223333\"\n    reason: r\n    expires: 2027-01-31T10:00:00Z\n", 4, "suppress[0].expires", "is not a date"},
		{"second entry named", "suppress:\n  - account: \"111122223333\"\n    reason: r\n  - account: \"111122223333\"\n    reason: r\n    user_agent: [a]\n", 6, "suppress[1].user_agent", "want a single value, not a list"},
	})
}

// typedGeo is a GeoIP reader that says which databases it holds, as
// detectors/geoip.DB does.
type typedGeo map[string]string

func (typedGeo) Lookup(netip.Addr) (detectors.GeoLocation, bool) {
	return detectors.GeoLocation{}, false
}
func (g typedGeo) Types() map[string]string { return g }

// source_asn is judged on the databases the program opened when it says
// which they are (a default database found without a geoip key counts),
// and on the geoip.asn_db key otherwise.
func TestSourceASNNeedsAnASNDatabase(t *testing.T) {
	doc := "suppress:\n  - source_asn: 16509\n    reason: r\n"
	tests := []struct {
		name string
		doc  string
		geo  detectors.GeoLookup
		ok   bool
	}{
		{"no key, nothing opened", doc, nil, false},
		{"key, nothing opened yet", "geoip:\n  asn_db: /a.mmdb\n" + doc, nil, true},
		{"no key, an ASN database opened", doc, typedGeo{"asn_db": "GeoLite2-ASN"}, true},
		{"a country database only", doc, typedGeo{"country_db": "GeoLite2-Country"}, false},
		{"a reader that does not say", doc, geoMapStub{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			_, err = cfg.Build(specs(), tt.geo)
			if (err == nil) != tt.ok {
				t.Errorf("Build: err = %v, want ok = %v", err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "suppress[0].source_asn: needs an ASN database") {
				t.Errorf("error does not name the key: %v", err)
			}
		})
	}
}

type geoMapStub struct{}

func (geoMapStub) Lookup(netip.Addr) (detectors.GeoLocation, bool) {
	return detectors.GeoLocation{}, false
}
