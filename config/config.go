// Package config reads the iamsentry configuration file (YAML) shared by
// serve and scan, and builds from it what the engine runs: the detectors with
// their settings, and the suppress list.
//
// Reading is strict: an unknown key or a bad value is an error naming the key
// and the reason, and every problem in a file is reported together, not only
// the first. The zero Config is the default configuration: every built-in
// detector enabled with its defaults, nothing suppressed.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/geoip"
	redisstate "github.com/iamsentry/iamsentry/state/redis"
)

// Config is the whole configuration file. Its keys are part of the
// product's interface; README.md documents each.
type Config struct {
	// Accounts are the organisation's AWS account ids; default: the
	// event's own account.
	Accounts []string `yaml:"accounts"`
	// TrustedNetworks are where calls are expected from.
	TrustedNetworks TrustedNetworks `yaml:"trusted_networks"`
	// PrivilegedRoles are wildcard patterns on role ARNs.
	PrivilegedRoles []string `yaml:"privileged_roles"`
	// SessionNames holds the session-name conventions.
	SessionNames SessionNames `yaml:"session_names"`
	// GeoIP names the MaxMind-format databases.
	GeoIP GeoIP `yaml:"geoip"`
	// Redis is the shared state store; absent means the embedded store.
	Redis Redis `yaml:"redis"`
	// Detectors holds per-detector settings by detector id.
	Detectors Detectors `yaml:"detectors"`
	// Suppress is the allow-list; first matching entry wins.
	Suppress []Suppress `yaml:"suppress"`
	// Sinks are where serve sends findings (see sinks.go).
	Sinks []Sink `yaml:"sinks"`
}

// TrustedNetworks is the trusted_networks key.
type TrustedNetworks struct {
	CIDRs        []string `yaml:"cidrs"`
	VPCEndpoints []string `yaml:"vpc_endpoints"`
}

// SessionNames is the session_names key.
type SessionNames struct {
	Patterns []string `yaml:"patterns"`
}

// GeoIP is the geoip key: paths of MaxMind-format databases (GeoLite2 or
// GeoIP2 Country/City for country_db, ASN/ISP for asn_db); either may be
// omitted.
type GeoIP struct {
	CountryDB string `yaml:"country_db"`
	ASNDB     string `yaml:"asn_db"`
}

// Redis is the redis key. URL takes every form state/redis.ParseOptions
// accepts (redis://, rediss://, address lists, Sentinel, Cluster); the
// --redis flag and the REDIS_URL environment variable override it.
type Redis struct {
	URL string `yaml:"url"`
}

// Suppress is one entry of the suppress list.
type Suppress struct {
	Detector   string `yaml:"detector"`
	Principal  string `yaml:"principal"`
	SourceCIDR string `yaml:"source_cidr"`
	Account    string `yaml:"account"`
	Reason     string `yaml:"reason"`
}

// Detectors maps detector ids to their settings.
type Detectors map[string]Detector

// UnmarshalYAML implements yaml.Unmarshaler, naming each detector's keys in
// errors (detectors.<id>.<key>).
func (ds *Detectors) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: detectors must be a mapping of detector ids to settings", n.Line)}}
	}
	*ds = make(Detectors, len(n.Content)/2)
	var errs []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		id := n.Content[i].Value
		var d Detector
		errs = append(errs, d.decode(id, n.Content[i+1])...)
		(*ds)[id] = d
	}
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	return nil
}

// Detector is the settings of one detector: enabled, severity, and the
// detector's own options (everything else under its id), which the detector
// decodes and validates when it is built.
type Detector struct {
	// Enabled switches the detector; absent means enabled.
	Enabled *bool
	// Severity replaces the detector's default severity on every finding.
	Severity *detectors.Severity
	options  *yaml.Node // mapping of the remaining keys; nil when none
}

// decode reads enabled and severity and keeps every other key for the
// detector, returning one message per problem.
func (d *Detector) decode(id string, n *yaml.Node) []string {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return []string{fmt.Sprintf("line %d: detectors.%s: a detector's settings must be a mapping (enabled, severity, options)", n.Line, id)}
	}
	var errs []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "enabled":
			var on bool
			if v.Kind != yaml.ScalarNode || v.Decode(&on) != nil {
				errs = append(errs, fmt.Sprintf("line %d: detectors.%s.enabled: %q is not true or false", v.Line, id, v.Value))
				continue
			}
			d.Enabled = &on
		case "severity":
			sev, err := detectors.ParseSeverity(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil {
				errs = append(errs, fmt.Sprintf("line %d: detectors.%s.severity: %q is not a severity (want INFO, LOW, MEDIUM, HIGH or CRITICAL)", v.Line, id, v.Value))
				continue
			}
			d.Severity = &sev
		default:
			if d.options == nil {
				d.options = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
			}
			d.options.Content = append(d.options.Content, k, v)
		}
	}
	return errs
}

// Load reads the file at path and builds it; errors name the file.
func Load(path string, specs []detectors.Spec) (*Built, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	b, err := ParseAndBuild(data, specs)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return b, nil
}

// ParseAndBuild parses data, validates it and builds it, reporting every
// problem of every stage together.
func ParseAndBuild(data []byte, specs []detectors.Spec) (*Built, error) {
	cfg, err := Parse(data)
	if cfg == nil {
		return nil, err
	}
	b, berr := cfg.Build(specs)
	if err != nil || berr != nil {
		return nil, errors.Join(err, berr)
	}
	return b, nil
}

// Parse decodes YAML strictly. An empty document is the default
// configuration. Values are checked by Build.
//
// When the YAML is well-formed but some keys are unknown or of the wrong
// type, Parse returns those errors together with the configuration decoded
// from the rest, so a caller can report the problems Build finds as well.
// On a syntax error the configuration is nil.
func Parse(data []byte) (*Config, error) {
	cfg := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(cfg)
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return cfg, nil
	case errors.As(err, new(*yaml.TypeError)):
		return cfg, yamlErrors(err)
	default:
		return nil, yamlErrors(err)
	}
}

// yamlErrors splits a yaml.TypeError (which gathers every field problem)
// into one joined error per problem.
func yamlErrors(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	errs := make([]error, len(te.Errors))
	for i, e := range te.Errors {
		errs[i] = errors.New(strings.TrimPrefix(e, "yaml: "))
	}
	return errors.Join(errs...)
}

// Built is a configuration made ready to run.
type Built struct {
	// Registry holds every built-in detector, built with its settings and
	// switched as configured.
	Registry *detectors.Registry
	// Suppress is the compiled suppress list.
	Suppress []detectors.Suppression
	// Settings are the organisation-wide settings the detectors share.
	Settings *detectors.Settings
	// RedisURL is the redis.url key, "" when absent.
	RedisURL string
	// Sinks are the checked sinks entries, in order.
	Sinks []SinkSetting
	// Notes are what enabled detectors say about how the configuration
	// makes them work, prefixed with the detector id, for the start-up log.
	Notes []string

	geo *geoip.DB
}

// Close releases what the configuration opened (GeoIP databases). The
// detectors of b must not be used afterwards.
func (b *Built) Close() error {
	if b == nil || b.geo == nil {
		return nil
	}
	return b.geo.Close()
}

// Build checks every value and builds the detectors of specs, reporting
// every problem together.
func (c *Config) Build(specs []detectors.Spec) (*Built, error) {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	settings, err := c.settings()
	add(err)
	if c.Redis.URL != "" {
		if _, err := redisstate.ParseOptions(c.Redis.URL); err != nil {
			add(fmt.Errorf("redis.url: %w", err))
		}
	}
	geo, err := c.openGeoIP()
	add(err)
	if geo != nil {
		settings.GeoIP = geo
	}

	ids := make([]string, len(specs))
	for i, s := range specs {
		ids[i] = s.ID
	}
	for id := range c.Detectors {
		if !slices.Contains(ids, id) {
			add(fmt.Errorf("detectors.%s: unknown detector (known: %s)", id, strings.Join(sorted(ids), ", ")))
		}
	}

	var built []detectors.Detector
	enabled := map[string]bool{}
	for _, spec := range specs {
		dc := c.Detectors[spec.ID]
		dec := &optionsDecoder{id: spec.ID, node: dc.options}
		d, err := spec.New(detectors.Config{Settings: settings, Options: dec.decode})
		if err != nil {
			add(detectorError(spec.ID, err))
			continue
		}
		add(dec.unread())
		if dc.Severity != nil {
			d = detectors.WithSeverity(d, *dc.Severity)
		}
		if dc.Enabled != nil {
			enabled[spec.ID] = *dc.Enabled
		}
		built = append(built, d)
	}
	sup, err := c.suppressions(ids)
	add(err)
	sinks, err := c.sinks(ids)
	add(err)
	if len(errs) == 0 {
		var reg *detectors.Registry
		if reg, err = detectors.NewRegistry(built...); err == nil {
			reg, err = reg.WithEnabled(enabled)
		}
		add(err)
		if err == nil {
			b := c.built(reg, sup, settings, geo)
			b.Sinks = sinks
			return b, nil
		}
	}
	if geo != nil {
		geo.Close()
	}
	return nil, errors.Join(errs...)
}

func (c *Config) built(reg *detectors.Registry, sup []detectors.Suppression, settings *detectors.Settings, geo *geoip.DB) *Built {
	b := &Built{Registry: reg, Suppress: sup, Settings: settings, RedisURL: c.Redis.URL, geo: geo}
	for _, d := range reg.Enabled() {
		if n, ok := d.(detectors.Notable); ok {
			for _, note := range n.Notes() {
				b.Notes = append(b.Notes, d.Info().ID+": "+note)
			}
		}
	}
	return b
}

// openGeoIP opens the configured databases, or returns nil when none is
// configured.
func (c *Config) openGeoIP() (*geoip.DB, error) {
	if c.GeoIP.CountryDB == "" && c.GeoIP.ASNDB == "" {
		return nil, nil
	}
	return geoip.Open(c.GeoIP.CountryDB, c.GeoIP.ASNDB)
}

// detectorError names the detector in err, and each option key in the
// OptionErrors it holds.
func detectorError(id string, err error) error {
	var out []error
	for _, e := range unjoin(err) {
		if oe, ok := errors.AsType[*detectors.OptionError](e); ok {
			out = append(out, fmt.Errorf("detectors.%s.%s: %s", id, oe.Key, oe.Reason))
			continue
		}
		if strings.HasPrefix(e.Error(), "line ") {
			out = append(out, e) // a decoding error: already names line and key
			continue
		}
		out = append(out, fmt.Errorf("detectors.%s: %w", id, e))
	}
	return errors.Join(out...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

var (
	accountPattern = regexp.MustCompile(`^\d{12}$`)
	vpcePattern    = regexp.MustCompile(`^vpce-[0-9a-f]{8,17}$`)
)

// settings checks and compiles the organisation-wide keys.
func (c *Config) settings() (*detectors.Settings, error) {
	s := &detectors.Settings{}
	var errs []error
	for i, a := range c.Accounts {
		if !accountPattern.MatchString(a) {
			errs = append(errs, fmt.Errorf("accounts[%d]: %q is not a 12-digit AWS account id", i, a))
			continue
		}
		s.Accounts = append(s.Accounts, a)
	}
	for i, v := range c.TrustedNetworks.CIDRs {
		p, err := parseCIDR(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("trusted_networks.cidrs[%d]: %w", i, err))
			continue
		}
		s.TrustedCIDRs = append(s.TrustedCIDRs, p)
	}
	for i, v := range c.TrustedNetworks.VPCEndpoints {
		if !vpcePattern.MatchString(v) {
			errs = append(errs, fmt.Errorf("trusted_networks.vpc_endpoints[%d]: %q is not a VPC endpoint id (vpce- followed by 8 or 17 hex digits)", i, v))
			continue
		}
		s.TrustedVPCEndpoints = append(s.TrustedVPCEndpoints, v)
	}
	for i, v := range c.PrivilegedRoles {
		if err := checkARNPattern(v, ":role/"); err != nil {
			errs = append(errs, fmt.Errorf("privileged_roles[%d]: %w", i, err))
			continue
		}
		s.PrivilegedRoles = append(s.PrivilegedRoles, v)
	}
	for i, v := range c.SessionNames.Patterns {
		re, err := regexp.Compile(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("session_names.patterns[%d]: %q is not an RE2 regular expression: %w", i, v, err))
			continue
		}
		s.SessionNamePatterns = append(s.SessionNamePatterns, re)
	}
	return s, errors.Join(errs...)
}

// parseCIDR accepts a CIDR or a single address (a /32 or /128), and rejects
// a CIDR with host bits set, which is almost always a typo.
func parseCIDR(v string) (netip.Prefix, error) {
	if !strings.Contains(v, "/") {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR nor an IP address", v)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(v)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR: %w", v, err)
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; did you mean %s?", v, p.Masked())
	}
	return p, nil
}

// checkARNPattern checks a wildcard pattern on ARNs: it must be an ARN
// pattern ("arn:" first) or start with a wildcard, and, when want is given
// and the resource part is literal, name that kind of resource.
func checkARNPattern(v, want string) error {
	switch {
	case v == "":
		return errors.New("empty pattern")
	case !strings.HasPrefix(v, "arn:") && !strings.HasPrefix(v, "*"):
		return fmt.Errorf("%q is not an ARN pattern (want e.g. \"arn:aws:iam::*:role/AdminRole\")", v)
	case want != "" && strings.HasPrefix(v, "arn:") && !strings.Contains(v, want) && !strings.Contains(v, "*"):
		return fmt.Errorf("%q names no %s ARN", v, strings.Trim(want, ":/"))
	}
	return nil
}

// suppressions checks and compiles the suppress list.
func (c *Config) suppressions(ids []string) ([]detectors.Suppression, error) {
	var out []detectors.Suppression
	var errs []error
	for i, e := range c.Suppress {
		at := fmt.Sprintf("suppress[%d]", i)
		s := detectors.Suppression{Entry: i, Detector: e.Detector, Principal: e.Principal, Account: e.Account, Reason: strings.TrimSpace(e.Reason)}
		n := len(errs)
		if s.Detector == "" {
			s.Detector = "*"
		}
		if s.Detector != "*" && !slices.Contains(ids, s.Detector) {
			errs = append(errs, fmt.Errorf("%s.detector: unknown detector %q (want \"*\" or one of: %s)", at, s.Detector, strings.Join(sorted(ids), ", ")))
		}
		if s.Principal != "" {
			if err := checkARNPattern(s.Principal, ""); err != nil {
				errs = append(errs, fmt.Errorf("%s.principal: %w", at, err))
			}
		}
		if e.SourceCIDR != "" {
			p, err := parseCIDR(e.SourceCIDR)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.source_cidr: %w", at, err))
			}
			s.SourceCIDR = p
		}
		if s.Account != "" && !accountPattern.MatchString(s.Account) {
			errs = append(errs, fmt.Errorf("%s.account: %q is not a 12-digit AWS account id", at, s.Account))
		}
		if s.Reason == "" {
			errs = append(errs, fmt.Errorf("%s.reason: required: say why the entry exists; it is shown with every finding it suppresses", at))
		}
		if s.Detector == "*" && s.Principal == "" && e.SourceCIDR == "" && s.Account == "" {
			errs = append(errs, fmt.Errorf("%s: matches every finding of every detector; name a principal, source_cidr or account, or one detector (to mute a detector, set detectors.<id>.enabled: false)", at))
		}
		if len(errs) == n {
			out = append(out, s)
		}
	}
	return out, errors.Join(errs...)
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
