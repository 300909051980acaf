package config_test

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
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
    account: "444455556666"
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

// TestErrors has one case per validation error; each names the key, the
// line of that key (or of the nearest key around an absent one) and the
// reason.
func TestErrors(t *testing.T) {
	checkErrors(t, []errorCase{
		{"not YAML", "detectors: [\n", 1, "", "not YAML: did not find expected node content"},
		{"not a mapping", "- accounts\n", 1, "", `want a mapping (keys: accounts, trusted_networks, privileged_roles, session_names, geoip, networks, redis, detectors, suppress, sinks), not a list`},
		{"unknown top-level key", "accounts: []\ntypo_key: 1\n", 2, "typo_key", "unknown key (known: accounts, trusted_networks, privileged_roles, session_names, geoip, networks, redis, detectors, suppress, sinks)"},
		{"unknown key in a section", "trusted_networks:\n  cidr: [\"10.0.0.0/8\"]\n", 2, "trusted_networks.cidr", "unknown key (known: cidrs, vpc_endpoints)"},
		{"key given twice", "accounts: [\"111122223333\"]\naccounts: [\"444455556666\"]\n", 2, "accounts", "given twice (first on line 1)"},
		{"section not a mapping", "geoip: /var/lib/GeoLite2-Country.mmdb\n", 1, "geoip", `want a mapping (keys: country_db, asn_db), not "/var/lib/GeoLite2-Country.mmdb"`},
		{"list wanted", "accounts: \"111122223333\"\n", 1, "accounts", `want a list, not "111122223333"`},
		{"value wanted", "accounts:\n  - [\"111122223333\"]\n", 2, "accounts[0]", "want a single value, not a list"},
		{"account not 12 digits", "accounts: [\"12345\"]\n", 1, "accounts[0]", `"12345" is not a 12-digit AWS account id`},
		{"bad cidr", "trusted_networks:\n  cidrs:\n    - \"10.0.0.0/33\"\n", 3, "trusted_networks.cidrs[0]", `"10.0.0.0/33" is not a CIDR: prefix length out of range`},
		{"cidr host bits", "trusted_networks:\n  cidrs: [\"10.1.2.3/8\"]\n", 2, "trusted_networks.cidrs[0]", "host bits set; did you mean 10.0.0.0/8?"},
		{"not an address", "trusted_networks:\n  cidrs: [\"office\"]\n", 2, "trusted_networks.cidrs[0]", "neither a CIDR nor an IP"},
		{"bad vpce", "trusted_networks:\n  vpc_endpoints: [\"vpc-123\"]\n", 2, "trusted_networks.vpc_endpoints[0]", "not a VPC endpoint id"},
		{"privileged role not an ARN", "privileged_roles: [\"AdminRole\"]\n", 1, "privileged_roles[0]", "not an ARN pattern"},
		{"privileged role not a role", "privileged_roles: [\"arn:aws:iam::111122223333:user/alice\"]\n", 1, "privileged_roles[0]", "no role ARN"},
		{"bad regex", "session_names:\n  patterns: ['^[a-z+$']\n", 2, "session_names.patterns[0]", "not an RE2 regular expression: error parsing regexp: missing closing ]"},
		{"detectors not a mapping", "detectors: [admin-policy-attached]\n", 1, "detectors", "want a mapping of detector ids to their settings, not a list"},
		{"unknown detector", "detectors:\n  no-such-detector:\n    enabled: true\n", 2, "detectors.no-such-detector", "unknown detector (known: access-"},
		{"detector settings not a mapping", "detectors:\n  optioned-test: yes\n", 2, "detectors.optioned-test", `want a mapping (enabled, severity and the detector's options), not "yes"`},
		{"bad enabled", "detectors:\n  admin-policy-attached:\n    enabled: maybe\n", 3, "detectors.admin-policy-attached.enabled", `"maybe" is not true or false`},
		{"bad severity", "detectors:\n  admin-policy-attached:\n    severity: urgent\n", 3, "detectors.admin-policy-attached.severity", `"urgent" is not a severity (want INFO, LOW, MEDIUM, HIGH or CRITICAL)`},
		{"option of a detector without options", "detectors:\n  admin-policy-attached:\n    enbled: true\n", 3, "detectors.admin-policy-attached.enbled", "unknown option (admin-policy-attached takes only enabled and severity)"},
		{"unknown option", "detectors:\n  optioned-test:\n    treshold: 3\n", 3, "detectors.optioned-test.treshold", "unknown option (known: enabled, severity, threshold, window)"},
		{"option of the wrong type", "detectors:\n  optioned-test:\n    threshold: many\n", 3, "detectors.optioned-test.threshold", `"many" is not a whole number`},
		{"option rejected by the detector", "detectors:\n  optioned-test:\n    window: 5m\n    threshold: 0\n", 4, "detectors.optioned-test.threshold", "must be at least 1"},
		{"suppress not a list", "suppress:\n  detector: admin-policy-attached\n", 2, "suppress", "want a list, not a mapping"},
		{"suppress unknown detector", "suppress:\n  - account: \"111122223333\"\n    detector: nope\n    reason: r\n", 3, "suppress[0].detector", `unknown detector "nope"`},
		{"suppress bad principal", "suppress:\n  - principal: terraform\n    reason: r\n", 2, "suppress[0].principal", "not an ARN pattern"},
		{"suppress bad cidr", "suppress:\n  - reason: r\n    source_cidr: 192.0.2.0/24x\n", 3, "suppress[0].source_cidr", "not a CIDR"},
		{"suppress bad account", "suppress:\n  - account: \"1\"\n    reason: r\n", 2, "suppress[0].account", "not a 12-digit AWS account id"},
		{"suppress without reason", "suppress:\n  - account: \"111122223333\"\n  - account: \"444455556666\"\n", 3, "suppress[1].reason", "required"},
		{"suppress everything", "suppress:\n  - detector: \"*\"\n    reason: quiet please\n", 2, "suppress[0]", "matches every finding"},
		{"unknown suppress key", "suppress:\n  - reason: r\n    role: x\n", 3, "suppress[0].role", "unknown key (known: detector, principal, event_name, target, user_agent, invoked_by, source_cidr, source_asn, account, expires, reason)"},
	})
}

// errorCase is a document with one validation error: the key it is at, the
// line of that key, and a fragment of the reason.
type errorCase struct {
	name string
	doc  string
	line int
	key  string
	msg  string
}

// checkErrors checks that each case's document is rejected with its error
// among those reported.
func checkErrors(t *testing.T, tests []errorCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.ParseAndBuild([]byte(tt.doc), specs())
			if err == nil {
				t.Fatalf("config accepted; want line %d: %s: %s", tt.line, tt.key, tt.msg)
			}
			if !slices.ContainsFunc(problems(t, err), func(p *config.Error) bool {
				return p.Line == tt.line && p.Key == tt.key && strings.Contains(p.Err.Error(), tt.msg)
			}) {
				t.Errorf("no error at line %d, key %q, saying %q in:\n%v", tt.line, tt.key, tt.msg, err)
			}
		})
	}
}

// goTypeName matches what a message must not show: a Go type or function
// name (config.Config, netip.ParsePrefix) or the yaml package's wording.
var goTypeName = regexp.MustCompile(`\b[a-z]+\.[A-Z]\w*|cannot unmarshal|!!\w+`)

// problems returns the *config.Error values err joins, failing t when err
// holds anything else, when one lacks a line, or when one shows a Go name.
func problems(t *testing.T, err error) []*config.Error {
	t.Helper()
	var out []*config.Error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		p, ok := errors.AsType[*config.Error](err)
		switch {
		case !ok:
			t.Errorf("error %q is not a *config.Error", err)
			return
		case p.Line == 0:
			t.Errorf("error %q has no line", p)
		case goTypeName.MatchString(p.Error()):
			t.Errorf("error %q shows a Go name", p)
		}
		out = append(out, p)
	}
	walk(err)
	return out
}

// TestEveryProblemAtOnce checks that problems of every stage are reported
// together, not only the first, each with its line, in the order of the
// file.
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
	want := []string{
		"line 2: accounts[0]:",
		"line 4: trusted_networks.cidrs[0]:",
		"line 7: detectors.optioned-test.threshold:",
		"line 9: detectors.admin-policy-attached.enabled:",
		"line 10: detectors.nope:",
		"line 12: suppress[0].account:",
		"line 12: suppress[0].reason:",
		"line 13: suppress[0].colour:",
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	ps := problems(t, err)
	if len(ps) != len(want) {
		t.Errorf("%d problems, want one per problem (%d):\n%v", len(ps), len(want), err)
	}
	if !slices.IsSortedFunc(ps, func(a, b *config.Error) int { return a.Line - b.Line }) {
		t.Errorf("problems must come in the order of the file:\n%v", err)
	}
}

// TestAnchors checks that YAML anchors and merge keys work as the yaml
// package has them, and that a merged key may be overridden.
func TestAnchors(t *testing.T) {
	doc := `
accounts: &ours ["111122223333"]
suppress:
  - &ci {principal: "arn:aws:iam::*:role/ci-*", reason: CI}
  - <<: *ci
    account: *ours
    reason: CI in our account
`
	_, err := config.ParseAndBuild([]byte(doc), specs())
	if err == nil || !strings.Contains(err.Error(), `line 6: suppress[1].account: want a single value, not a list`) {
		t.Fatalf("alias of the wrong kind: err = %v", err)
	}
	b, err := config.ParseAndBuild([]byte(strings.Replace(doc, "*ours", `"111122223333"`, 1)), specs())
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Suppress) != 2 || b.Suppress[1].Principal != "arn:aws:iam::*:role/ci-*" || b.Suppress[1].Reason != "CI in our account" {
		t.Errorf("suppress = %+v", b.Suppress)
	}
}

func TestTypeErrorsTogether(t *testing.T) {
	doc := "detectors:\n  admin-policy-attached:\n    enabled: maybe\n    colour: red\n"
	_, err := config.ParseAndBuild([]byte(doc), specs())
	if err == nil || !strings.Contains(err.Error(), "maybe") {
		t.Fatalf("err = %v", err)
	}
}

// TestAt checks the line At gives a problem found outside the package (a
// GeoIP database that does not open): the key's, or that of the nearest
// enclosing key when the key is absent.
func TestAt(t *testing.T) {
	cfg, err := config.Parse([]byte("accounts: []\ngeoip:\n  asn_db: /x.mmdb\n  country_db: /y.mmdb\n"))
	if err != nil {
		t.Fatal(err)
	}
	for key, line := range map[string]int{"geoip.country_db": 4, "geoip.asn_db": 3, "geoip.city_db": 2, "redis.url": 1} {
		var e *config.Error
		if !errors.As(cfg.At(key, errors.New("bad")), &e) || e.Line != line || e.Key != key {
			t.Errorf("At(%q) = %v, want line %d", key, e, line)
		}
	}
	if err := cfg.At("geoip.asn_db", errors.Join(errors.New("one"), errors.New("two"))); err.Error() != "line 3: geoip.asn_db: one\nline 3: geoip.asn_db: two" {
		t.Errorf("a joined error must give one problem per error:\n%v", err)
	}
	if err := (&config.Config{}).At("redis.url", os.ErrNotExist); !errors.Is(err, os.ErrNotExist) || err.Error() != "redis.url: "+os.ErrNotExist.Error() {
		t.Errorf("At on a Config made in code = %v", err)
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

// geoTable is a detectors.GeoLookup for tests.
type geoTable map[netip.Addr]detectors.GeoLocation

func (g geoTable) Lookup(a netip.Addr) (detectors.GeoLocation, bool) {
	l, ok := g[a]
	return l, ok
}

// TestGeoIP checks that Build hands the detectors the GeoIP lookup it is
// given, and that without one the detector that uses it says so.
func TestGeoIP(t *testing.T) {
	cfg, err := config.Parse([]byte("geoip:\n  country_db: /var/lib/GeoLite2-Country.mmdb\n"))
	if err != nil {
		t.Fatal(err)
	}
	geo := geoTable{netip.MustParseAddr("203.0.113.9"): {Country: "NL", ASN: 64500}}
	b, err := cfg.Build(builtin.Specs(), geo)
	if err != nil {
		t.Fatal(err)
	}
	if loc, ok := b.Settings.GeoIP.Lookup(netip.MustParseAddr("203.0.113.9")); !ok || loc.Country != "NL" {
		t.Errorf("lookup through the settings = %+v, %v", loc, ok)
	}
	for _, n := range b.Notes {
		if strings.HasPrefix(n, builtin.AccessKeyNewLocationID) && strings.Contains(n, "prefix") {
			t.Errorf("with GeoIP, new-location still notes a fallback: %s", n)
		}
	}

	// Without databases the detector says it falls back.
	b2, err := cfg.Build(builtin.Specs(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b2.Settings.GeoIP != nil {
		t.Errorf("GeoIP = %v without a lookup", b2.Settings.GeoIP)
	}
	if !slices.ContainsFunc(b2.Notes, func(n string) bool { return strings.HasPrefix(n, builtin.AccessKeyNewLocationID+":") }) {
		t.Errorf("no fallback note without databases: %q", b2.Notes)
	}
}

// TestAliasExpansionIsBounded: aliases are followed where they stand, so a
// short file of repeated aliases must not make decoding unbounded. The file
// below is 0.6 MB and would expand to 150,000 suppress entries.
func TestAliasExpansionIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("x_anchor: &s {detector: admin-policy-attached, reason: r}\n")
	b.WriteString("suppress: [")
	for i := range 150_000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("*s")
	}
	b.WriteString("]\n")
	_, err := config.Parse([]byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "expands to more than 100000 values") {
		t.Fatalf("Parse of an alias bomb: %v; want the expansion limit", err)
	}
	if n := strings.Count(err.Error(), "expands to more than"); n != 1 {
		t.Errorf("the expansion limit is reported %d times, want once", n)
	}
}

// TestNetworks checks that the networks key adds to and trims the built-in
// AWS and hosting lists, and refuses ASN 0.
func TestNetworks(t *testing.T) {
	b, err := config.ParseAndBuild([]byte("networks:\n  aws_asns: [64512]\n  hosting_asns: [3320]\n  not_hosting_asns: [14061]\n"), builtin.Specs())
	if err != nil {
		t.Fatal(err)
	}
	s := b.Settings
	if !slices.Contains(s.AWSASNs, 64512) || !slices.Contains(s.AWSASNs, 16509) {
		t.Errorf("AWSASNs = %v, want the defaults and 64512", s.AWSASNs)
	}
	if !slices.Contains(s.HostingASNs, 3320) || slices.Contains(s.HostingASNs, 14061) || !slices.Contains(s.HostingASNs, 24940) {
		t.Errorf("HostingASNs = %v, want the defaults with 3320 and without 14061", s.HostingASNs)
	}
	if _, err := config.ParseAndBuild([]byte("networks:\n  hosting_asns: [0]\n"), builtin.Specs()); err == nil || !strings.Contains(err.Error(), "not an autonomous system number") {
		t.Errorf("ASN 0: err = %v", err)
	}
	if _, err := config.ParseAndBuild([]byte("networks:\n  hosting_asns: [AS3320]\n"), builtin.Specs()); err == nil {
		t.Error("a non-number ASN was accepted")
	}
}
