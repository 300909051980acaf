package config_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/detectors/geoip/geoiptest"
	"github.com/iamsentry/iamsentry/state"
)

// optioned is a test detector with options of every kind detectors use.
type optioned struct {
	opts optionedOptions
}

type optionedOptions struct {
	Threshold int    `yaml:"threshold"`
	Window    string `yaml:"window"`
}

const optionedID = "optioned-test"

func newOptioned(c detectors.Config) (detectors.Detector, error) {
	d := &optioned{opts: optionedOptions{Threshold: 15, Window: "10m"}}
	if err := c.Decode(&d.opts); err != nil {
		return nil, err
	}
	if d.opts.Threshold < 1 {
		return nil, &detectors.OptionError{Key: "threshold", Reason: "must be at least 1"}
	}
	return d, nil
}

func (d *optioned) Info() detectors.Info {
	return detectors.Info{ID: optionedID, Title: "t", Severity: detectors.SeverityMedium, Techniques: []string{"T1087.004"}}
}
func (d *optioned) Observe(*detectors.Event, *state.Batch) detectors.Evaluation { return nil }

// noted is a test detector that reports a note when no trusted networks are
// configured.
type noted struct{ s *detectors.Settings }

func (n noted) Info() detectors.Info {
	return detectors.Info{ID: "noted-test", Title: "t", Severity: detectors.SeverityLow, Techniques: []string{"T1078.004"}}
}
func (noted) Observe(*detectors.Event, *state.Batch) detectors.Evaluation { return nil }
func (n noted) Notes() []string {
	if !n.s.HasTrustedNetworks() {
		return []string{"off: no trusted_networks configured"}
	}
	return nil
}

func specs() []detectors.Spec {
	return append(builtin.Specs(),
		detectors.Spec{ID: optionedID, New: newOptioned},
		detectors.Spec{ID: "noted-test", New: func(c detectors.Config) (detectors.Detector, error) { return noted{c.Settings}, nil }},
	)
}

const full = `
accounts: ["111122223333", "444455556666"]
trusted_networks:
  cidrs: ["198.51.100.0/24", "10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
  vpc_endpoints: ["vpce-0a1b2c3d4e5f67890"]
privileged_roles:
  - "arn:aws:iam::*:role/AdminRole"
session_names:
  patterns: ['^[a-z]+@example\.com$']
detectors:
  admin-policy-attached:
    enabled: true
    severity: critical
  optioned-test:
    threshold: 20
    window: 5m
suppress:
  - detector: "*"
    principal: "arn:aws:iam::*:role/terraform-*"
    source_cidr: "192.0.2.0/24"
    account: "111122223333"
    reason: "IaC pipeline"
  - detector: admin-policy-attached
    reason: "muted while the sandbox is rebuilt"
`

func TestBuildFullFile(t *testing.T) {
	b, err := config.ParseAndBuild([]byte(full), specs())
	if err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	s := b.Settings
	if len(s.Accounts) != 2 || len(s.TrustedCIDRs) != 4 || len(s.TrustedVPCEndpoints) != 1 ||
		len(s.PrivilegedRoles) != 1 || len(s.SessionNamePatterns) != 1 {
		t.Errorf("settings not all read: %+v", s)
	}
	if s.TrustedCIDRs[3] != netip.MustParsePrefix("192.0.2.7/32") {
		t.Errorf("a bare address must mean a /32, got %v", s.TrustedCIDRs[3])
	}
	var sev detectors.Severity
	var threshold int
	for _, l := range b.Registry.List() {
		switch l.ID {
		case builtin.AdminPolicyAttachedID:
			sev = l.Severity
		case optionedID:
			threshold = findOptioned(t, b).opts.Threshold
		}
	}
	if sev != detectors.SeverityCritical {
		t.Errorf("severity override: %v, want CRITICAL", sev)
	}
	if threshold != 20 {
		t.Errorf("option threshold = %d, want 20", threshold)
	}
	if len(b.Suppress) != 2 || b.Suppress[0].Reason != "IaC pipeline" || b.Suppress[1].Entry != 1 ||
		b.Suppress[0].SourceCIDR != netip.MustParsePrefix("192.0.2.0/24") {
		t.Errorf("suppress = %+v", b.Suppress)
	}
	if slices.ContainsFunc(b.Notes, func(n string) bool { return strings.HasPrefix(n, "noted-test:") }) {
		t.Errorf("notes with trusted networks configured: %v", b.Notes)
	}
}

func findOptioned(t *testing.T, b *config.Built) *optioned {
	for _, d := range b.Registry.Enabled() {
		if o, ok := d.(*optioned); ok {
			return o
		}
	}
	t.Fatal("optioned-test not enabled")
	return nil
}

func TestDefaults(t *testing.T) {
	for name, doc := range map[string]string{"empty": "", "comments": "# nothing set\n", "null detector": "detectors:\n  optioned-test:\n"} {
		t.Run(name, func(t *testing.T) {
			b, err := config.ParseAndBuild([]byte(doc), specs())
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Registry.Enabled()) != len(specs()) {
				t.Errorf("%d of %d detectors enabled by default", len(b.Registry.Enabled()), len(specs()))
			}
			if findOptioned(t, b).opts.Threshold != 15 {
				t.Error("defaults lost")
			}
			if !slices.ContainsFunc(b.Notes, func(n string) bool { return strings.HasPrefix(n, "noted-test: off") }) {
				t.Errorf("notes = %q, want the noted-test note", b.Notes)
			}
			for _, n := range b.Notes {
				id, rest, _ := strings.Cut(n, ": ")
				if strings.HasPrefix(rest, id) {
					t.Errorf("note repeats its detector id: %q", n)
				}
			}
		})
	}
}

func TestDisable(t *testing.T) {
	b, err := config.ParseAndBuild([]byte("detectors:\n  admin-policy-attached:\n    enabled: false\n"), specs())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range b.Registry.Enabled() {
		if d.Info().ID == builtin.AdminPolicyAttachedID {
			t.Error("disabled detector still enabled")
		}
	}
	if len(b.Registry.List()) != len(specs()) {
		t.Error("a disabled detector must still be listed")
	}
}

// TestErrors has one case per validation error; each names the key and the
// reason.
func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // every fragment must appear in the error
	}{
		{"not YAML", "detectors: [\n", []string{"yaml"}},
		{"unknown top-level key", "detector:\n  x: 1\n", []string{"field detector not found"}},
		{"unknown key in a section", "trusted_networks:\n  cidr: [\"10.0.0.0/8\"]\n", []string{"field cidr not found"}},
		{"account not 12 digits", "accounts: [\"12345\"]\n", []string{"accounts[0]", "12-digit"}},
		{"bad cidr", "trusted_networks:\n  cidrs: [\"10.0.0.0/33\"]\n", []string{"trusted_networks.cidrs[0]", "not a CIDR"}},
		{"cidr host bits", "trusted_networks:\n  cidrs: [\"10.1.2.3/8\"]\n", []string{"trusted_networks.cidrs[0]", "host bits", "10.0.0.0/8"}},
		{"not an address", "trusted_networks:\n  cidrs: [\"office\"]\n", []string{"trusted_networks.cidrs[0]", "neither a CIDR nor an IP"}},
		{"bad vpce", "trusted_networks:\n  vpc_endpoints: [\"vpc-123\"]\n", []string{"trusted_networks.vpc_endpoints[0]", "VPC endpoint id"}},
		{"privileged role not an ARN", "privileged_roles: [\"AdminRole\"]\n", []string{"privileged_roles[0]", "not an ARN pattern"}},
		{"privileged role not a role", "privileged_roles: [\"arn:aws:iam::111122223333:user/alice\"]\n", []string{"privileged_roles[0]", "no role ARN"}},
		{"bad regex", "session_names:\n  patterns: ['^[a-z+$']\n", []string{"session_names.patterns[0]", "RE2", "missing closing ]"}},
		{"unknown detector", "detectors:\n  no-such-detector:\n    enabled: true\n", []string{"detectors.no-such-detector: unknown detector", "admin-policy-attached"}},
		{"detector settings not a mapping", "detectors:\n  optioned-test: yes\n", []string{"line 2", "must be a mapping"}},
		{"bad enabled", "detectors:\n  admin-policy-attached:\n    enabled: maybe\n", []string{"line 3", "detectors.admin-policy-attached.enabled", "maybe", "not true or false"}},
		{"bad severity", "detectors:\n  admin-policy-attached:\n    severity: urgent\n", []string{"line 3", "detectors.admin-policy-attached.severity", "urgent", "INFO, LOW, MEDIUM, HIGH or CRITICAL"}},
		{"option of a detector without options", "detectors:\n  admin-policy-attached:\n    enbled: true\n", []string{"line 3", "detectors.admin-policy-attached.enbled", "takes only enabled and severity"}},
		{"unknown option", "detectors:\n  optioned-test:\n    treshold: 3\n", []string{"line 3", "detectors.optioned-test.treshold: unknown option", "threshold"}},
		{"option of the wrong type", "detectors:\n  optioned-test:\n    threshold: many\n", []string{"line 3", "many", "detectors.optioned-test"}},
		{"option rejected by the detector", "detectors:\n  optioned-test:\n    threshold: 0\n", []string{"detectors.optioned-test.threshold: must be at least 1"}},
		{"suppress unknown detector", "suppress:\n  - detector: nope\n    account: \"111122223333\"\n    reason: r\n", []string{"suppress[0].detector", "unknown detector \"nope\""}},
		{"suppress bad principal", "suppress:\n  - principal: terraform\n    reason: r\n", []string{"suppress[0].principal", "not an ARN pattern"}},
		{"suppress bad cidr", "suppress:\n  - source_cidr: 192.0.2.0/24x\n    reason: r\n", []string{"suppress[0].source_cidr"}},
		{"suppress bad account", "suppress:\n  - account: \"1\"\n    reason: r\n", []string{"suppress[0].account"}},
		{"suppress without reason", "suppress:\n  - account: \"111122223333\"\n", []string{"suppress[0].reason: required"}},
		{"suppress everything", "suppress:\n  - detector: \"*\"\n    reason: quiet please\n", []string{"suppress[0]: matches every finding"}},
		{"bad redis url", "redis:\n  url: \"redis://h:1?colour=red\"\n", []string{"redis.url", "colour"}},
		{"unknown suppress key", "suppress:\n  - role: x\n    reason: r\n", []string{"field role not found"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.ParseAndBuild([]byte(tt.doc), specs())
			if err == nil {
				t.Fatalf("config accepted; want an error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestEveryProblemAtOnce checks that problems of every stage are reported
// together, not only the first.
func TestEveryProblemAtOnce(t *testing.T) {
	doc := `
accounts: ["1"]
trusted_networks:
  cidrs: ["10.0.0.0/33"]
detectors:
  optioned-test:
    threshold: 0
  admin-policy-attached:
    enabled: maybe
  nope: {}
suppress:
  - account: "2"
    colour: red
`
	_, err := config.ParseAndBuild([]byte(doc), specs())
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{"accounts[0]", "trusted_networks.cidrs[0]", "detectors.optioned-test.threshold", "detectors.nope", "suppress[0].account", "suppress[0].reason", "detectors.admin-policy-attached.enabled", "field colour not found"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if n := len(strings.Split(err.Error(), "\n")); n < 6 {
		t.Errorf("want one line per problem, got %d:\n%v", n, err)
	}
}

func TestTypeErrorsTogether(t *testing.T) {
	doc := "detectors:\n  admin-policy-attached:\n    enabled: maybe\n    colour: red\n"
	_, err := config.ParseAndBuild([]byte(doc), specs())
	if err == nil || !strings.Contains(err.Error(), "maybe") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iamsentry.yaml")
	if err := os.WriteFile(path, []byte("bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path, specs()); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v must name the file", err)
	}
	_, err := config.Load(filepath.Join(t.TempDir(), "missing.yaml"), specs())
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestDocumentedExamples checks that the configuration docs/configuration.md
// shows and the example file under deploy/ are valid, and the same.
func TestDocumentedExamples(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## Configuration")
	if !ok {
		t.Fatal("docs/configuration.md has no Configuration section")
	}
	_, block, ok := strings.Cut(after, "```yaml\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("the Configuration section shows no yaml block")
	}
	example, err := os.ReadFile(filepath.Join("..", "deploy", "iamsentry.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	uncommented := func(s string) string {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			if l, _, _ = strings.Cut(l, "#"); strings.TrimSpace(l) != "" {
				lines = append(lines, strings.TrimRight(l, " "))
			}
		}
		return strings.Join(lines, "\n")
	}
	if uncommented(block) != uncommented(string(example)) {
		t.Errorf("docs/configuration.md's configuration differs from deploy/iamsentry.example.yaml:\ndocs:\n%s\nexample:\n%s", uncommented(block), uncommented(string(example)))
	}
	for name, doc := range map[string]string{"docs/configuration.md": block, "example": string(example)} {
		if _, err := config.ParseAndBuild([]byte(doc), builtin.Specs()); err != nil {
			t.Errorf("%s configuration rejected: %v", name, err)
		}
	}
}

func TestGeoIP(t *testing.T) {
	country := geoiptest.Write(t, "GeoLite2-Country", geoiptest.Net{Prefix: "203.0.113.0/24", Country: "NL"})
	asn := geoiptest.Write(t, "GeoLite2-ASN", geoiptest.Net{Prefix: "203.0.113.0/24", ASN: 64500, ASNOrg: "Example"})
	doc := "geoip:\n  country_db: " + country + "\n  asn_db: " + asn + "\n"
	b, err := config.ParseAndBuild([]byte(doc), builtin.Specs())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	loc, ok := b.Settings.GeoIP.Lookup(netip.MustParseAddr("203.0.113.9"))
	if !ok || loc.Country != "NL" || loc.ASN != 64500 {
		t.Errorf("lookup through the configured databases = %+v, %v", loc, ok)
	}
	for _, n := range b.Notes {
		if strings.HasPrefix(n, builtin.AccessKeyNewLocationID) && strings.Contains(n, "prefix") {
			t.Errorf("with databases configured, new-location still notes a fallback: %s", n)
		}
	}

	// Without databases the detector says it falls back.
	b2, err := config.ParseAndBuild(nil, builtin.Specs())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(b2.Notes, func(n string) bool { return strings.HasPrefix(n, builtin.AccessKeyNewLocationID+":") }) {
		t.Errorf("no fallback note without databases: %q", b2.Notes)
	}

	for name, tt := range map[string]struct{ doc, want string }{
		"missing file": {"geoip:\n  country_db: /nonexistent/GeoLite2-Country.mmdb\n", "country_db"},
		"wrong type":   {"geoip:\n  asn_db: " + country + "\n", "asn_db"},
		"not an mmdb":  {"geoip:\n  country_db: " + filepath.Join("testdata", "..", "config.go") + "\n", "country_db"},
		"unknown key":  {"geoip:\n  city_db: x\n", "field city_db not found"},
	} {
		_, err := config.ParseAndBuild([]byte(tt.doc), builtin.Specs())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to name %s", name, err, tt.want)
		}
	}
}
