// Package config is the schema of the iamsentry configuration file (YAML)
// shared by serve and scan, and its validation. It builds what the engine
// runs from it (the detectors with their settings, the suppress list) and
// checks everything else, but opens nothing: the GeoIP databases, the Redis
// store and the findings sinks it names are opened by the program that
// assembles the process, which reports its own failures through Config.At
// so that they read like the rest.
//
// Reading is strict: an unknown key or a bad value is an *Error naming the
// key path, its line and the reason in the file's words, and every problem
// in a file is reported together, not only the first. The zero Config is
// the default configuration: every built-in detector enabled with its
// defaults, nothing suppressed.
package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iamsentry/iamsentry/detectors"
)

// Config is the whole configuration file. Its keys are part of the
// product's interface; docs/configuration.md documents each.
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
	// Networks adjusts how source networks are classified (AWS, hosting).
	Networks Networks `yaml:"networks"`
	// Redis is the shared state store; absent means the embedded store.
	Redis Redis `yaml:"redis"`
	// Detectors holds per-detector settings by detector id.
	Detectors Detectors `yaml:"detectors"`
	// Suppress is the allow-list; first matching entry wins.
	Suppress []Suppress `yaml:"suppress"`
	// Sinks are where serve sends findings (see sinks.go).
	Sinks []Sink `yaml:"sinks"`

	lines lines // where each key is in the file; nil for a Config made in code
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

// Networks is the networks key: additions to (and removals from) the
// built-in lists of AWS and hosting autonomous systems
// (detectors.DefaultAWSASNs, detectors.DefaultHostingASNs). They take
// effect with an ASN database (geoip.asn_db).
type Networks struct {
	AWSASNs        []uint32 `yaml:"aws_asns"`
	HostingASNs    []uint32 `yaml:"hosting_asns"`
	NotHostingASNs []uint32 `yaml:"not_hosting_asns"`
}

// Redis is the redis key. URL takes every form state/redis.ParseOptions
// accepts (redis://, rediss://, address lists, Sentinel, Cluster); the
// program that opens the store checks it. The --redis flag and the
// REDIS_URL environment variable override it.
type Redis struct {
	URL string `yaml:"url"`
}

// Suppress is one entry of the suppress list; docs/configuration.md
// documents each key.
type Suppress struct {
	Detector   string `yaml:"detector"`
	Principal  string `yaml:"principal"`
	EventName  Globs  `yaml:"event_name"`
	Target     Globs  `yaml:"target"`
	UserAgent  string `yaml:"user_agent"`
	InvokedBy  string `yaml:"invoked_by"`
	SourceCIDR string `yaml:"source_cidr"`
	SourceASN  string `yaml:"source_asn"`
	Account    string `yaml:"account"`
	Expires    string `yaml:"expires"`
	Reason     string `yaml:"reason"`
}

// Globs is a key that takes one wildcard pattern or a list of them.
type Globs []string

// decodeNode reads a single scalar as a list of one.
func (g *Globs) decodeNode(d *decoder, n *yaml.Node, key string) bool {
	if n.Kind == yaml.ScalarNode {
		*g = Globs{n.Value}
		return true
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n.Line, key, "want a pattern or a list of patterns, not %s", kind(n))
		return false
	}
	return d.list(n, reflect.ValueOf((*[]string)(g)).Elem(), key)
}

// ParseAndBuild parses data, validates it and builds it without GeoIP
// databases, reporting every problem of every stage together. It is for
// checks and tests of configuration files; a program that runs the result
// opens what the file names and calls Build.
func ParseAndBuild(data []byte, specs []detectors.Spec) (*Built, error) {
	cfg, err := Parse(data)
	if cfg == nil {
		return nil, err
	}
	b, berr := cfg.Build(specs, nil)
	if err != nil || berr != nil {
		return nil, Join(err, berr)
	}
	return b, nil
}

// Parse decodes YAML strictly: every key must be known and every value of
// the kind its key wants. An empty document is the default configuration.
// Values are checked by Build.
//
// When the YAML is well-formed but some keys are unknown or of the wrong
// kind, Parse returns those errors together with the configuration decoded
// from the rest, so a caller can report the problems Build finds as well.
// On a syntax error the configuration is nil. Errors are *Error values,
// joined.
func Parse(data []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(err)
	}
	cfg := &Config{}
	if len(doc.Content) == 0 {
		return cfg, nil
	}
	d := newDecoder()
	root := doc.Content[0]
	d.lines[""] = root.Line
	d.decode(root, reflect.ValueOf(cfg).Elem(), "")
	cfg.lines = d.lines
	return cfg, errors.Join(d.errs...)
}

// syntaxPattern matches the yaml package's syntax errors.
var syntaxPattern = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

// syntaxError turns a YAML syntax error into an *Error with its line.
func syntaxError(err error) error {
	msg := err.Error()
	m := syntaxPattern.FindStringSubmatch(msg)
	if m == nil {
		return &Error{Err: err}
	}
	line, _ := strconv.Atoi(m[1])
	return &Error{Line: line, Err: fmt.Errorf("not YAML: %s", msg[len(m[0]):])}
}

// At returns err as the problem of the value at key (a key path such as
// "geoip.country_db"), with the line of that key in the file c was parsed
// from; a join of several errors becomes a join of as many problems. The
// program that opens what the configuration names (GeoIP databases, the
// Redis store) reports its failures through At, so they read like every
// other configuration error.
func (c *Config) At(key string, err error) error {
	if err == nil {
		return nil
	}
	errs := unjoin(err)
	for i, e := range errs {
		errs[i] = &Error{Key: key, Line: c.lines.at(key), Err: e}
	}
	return errors.Join(errs...)
}

// Join joins configuration problems, as errors.Join does, in the order of
// the file: by line, problems without a line first, the order they were
// found in otherwise. A program that adds its own problems (through At) to
// those of Parse and Build reports them all with Join.
func Join(errs ...error) error {
	var all []error
	for _, err := range errs {
		if err != nil {
			all = append(all, unjoin(err)...)
		}
	}
	slices.SortStableFunc(all, func(a, b error) int { return line(a) - line(b) })
	return errors.Join(all...)
}

func line(err error) int {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Line
	}
	return 0
}

// errorf is At with a formatted message.
func (c *Config) errorf(key, format string, args ...any) error {
	return c.At(key, fmt.Errorf(format, args...))
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
	Sinks []Sink
	// Notes are what enabled detectors say about how the configuration
	// makes them work, prefixed with the detector id, for the start-up log.
	Notes []string
	// Warnings are what is legal but likely a mistake (a suppress entry
	// past its expires date), prefixed with the key path, for the
	// start-up log.
	Warnings []string
}

// Build checks every value and builds the detectors of specs, reporting
// every problem together. geo resolves addresses for the detectors: the
// databases c.GeoIP names, opened by the caller; nil means none.
func (c *Config) Build(specs []detectors.Spec, geo detectors.GeoLookup) (*Built, error) {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	settings, err := c.settings()
	add(err)
	settings.GeoIP = geo
	ids := make([]string, len(specs))
	for i, s := range specs {
		ids[i] = s.ID
	}
	reg, err := c.buildDetectors(specs, ids, settings)
	add(err)
	sup, warnings, err := c.suppressions(ids, geo, time.Now())
	add(err)
	add(c.sinks(ids))
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	b := &Built{Registry: reg, Suppress: sup, Settings: settings, RedisURL: c.Redis.URL, Sinks: slices.Clone(c.Sinks), Warnings: warnings}
	for _, d := range reg.Enabled() {
		if n, ok := d.(detectors.Notable); ok {
			for _, note := range n.Notes() {
				b.Notes = append(b.Notes, d.Info().ID+": "+note)
			}
		}
	}
	return b, nil
}

// buildDetectors builds every detector of specs with its settings and
// returns them in a registry, switched as configured.
func (c *Config) buildDetectors(specs []detectors.Spec, ids []string, settings *detectors.Settings) (*detectors.Registry, error) {
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(c.Detectors)) {
		if !slices.Contains(ids, id) {
			errs = append(errs, c.errorf(join("detectors", id), "unknown detector (known: %s)", strings.Join(sorted(ids), ", ")))
		}
	}
	var built []detectors.Detector
	enabled := map[string]bool{}
	for _, spec := range specs {
		dc := c.Detectors[spec.ID]
		dec := newOptionsDecoder(spec.ID, dc)
		d, err := spec.New(detectors.Config{Settings: settings, Options: dec.decode})
		if err != nil {
			errs = append(errs, c.detectorError(spec.ID, err))
			continue
		}
		if err := dec.unread(); err != nil {
			errs = append(errs, err)
		}
		if dc.Severity != nil {
			d = detectors.WithSeverity(d, *dc.Severity)
		}
		if dc.Enabled != nil {
			enabled[spec.ID] = *dc.Enabled
		}
		built = append(built, d)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	reg, err := detectors.NewRegistry(built...)
	if err == nil {
		reg, err = reg.WithEnabled(enabled)
	}
	return reg, err
}

// detectorError names the detector in err, and each option key in the
// OptionErrors it holds, with their lines.
func (c *Config) detectorError(id string, err error) error {
	var out []error
	for _, e := range unjoin(err) {
		if oe, ok := errors.AsType[*detectors.OptionError](e); ok {
			out = append(out, c.At(join(join("detectors", id), oe.Key), errors.New(oe.Reason)))
			continue
		}
		if _, ok := errors.AsType[*Error](e); ok {
			out = append(out, e) // a decoding error: already names line and key
			continue
		}
		out = append(out, c.At(join("detectors", id), e))
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
