package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
)

// eventNamePattern is what an event_name pattern may hold: CloudTrail
// event names are letters and digits ("AttachRolePolicy",
// "GetBucketPolicy20190101"), plus wildcards.
var eventNamePattern = regexp.MustCompile(`^[A-Za-z0-9_*?]+$`)

// suppressions checks and compiles the suppress list. geo resolves
// addresses for source_asn; now dates the warnings about expired entries.
func (c *Config) suppressions(ids []string, geo detectors.GeoLookup, now time.Time) ([]detectors.Suppression, []string, error) {
	var out []detectors.Suppression
	var warnings []string
	var errs []error
	for i, e := range c.Suppress {
		at := fmt.Sprintf("suppress[%d]", i)
		s, entryErrs := c.suppression(at, e, ids, geo)
		s.Entry, s.Geo = i, geo
		if len(entryErrs) > 0 {
			errs = append(errs, entryErrs...)
			continue
		}
		if !s.Expires.IsZero() && !now.Before(s.Expires) {
			warnings = append(warnings, fmt.Sprintf("%s: expired on %s; it no longer matches anything (%s)", at, e.Expires, s.Reason))
		}
		out = append(out, s)
	}
	return out, warnings, errors.Join(errs...)
}

// suppression checks and compiles one entry, at key path at.
func (c *Config) suppression(at string, e Suppress, ids []string, geo detectors.GeoLookup) (detectors.Suppression, []error) {
	s := detectors.Suppression{
		Detector: e.Detector, Principal: e.Principal, EventNames: e.EventName, Targets: e.Target,
		UserAgent: e.UserAgent, InvokedBy: e.InvokedBy, Account: e.Account, Reason: strings.TrimSpace(e.Reason),
	}
	var errs []error
	fail := func(key string, err error) { errs = append(errs, c.At(at+"."+key, err)) }
	if s.Detector == "" {
		s.Detector = "*"
	}
	if s.Detector != "*" && !slices.Contains(ids, s.Detector) {
		fail("detector", fmt.Errorf("unknown detector %q (want \"*\" or one of: %s)", s.Detector, strings.Join(sorted(ids), ", ")))
	}
	if s.Principal != "" {
		if err := checkARNPattern(s.Principal, ""); err != nil {
			fail("principal", err)
		}
	}
	for i, n := range e.EventName {
		if err := checkEventName(n); err != nil {
			fail(fmt.Sprintf("event_name[%d]", i), err)
		}
	}
	for i, t := range e.Target {
		if strings.TrimSpace(t) == "" {
			fail(fmt.Sprintf("target[%d]", i), errors.New("empty pattern"))
		}
	}
	if e.SourceCIDR != "" {
		p, err := parseCIDR(e.SourceCIDR)
		if err != nil {
			fail("source_cidr", err)
		}
		s.SourceCIDR = p
	}
	if e.SourceASN != "" {
		asn, err := c.sourceASN(e.SourceASN, geo)
		if err != nil {
			fail("source_asn", err)
		}
		s.SourceASN = asn
	}
	if s.Account != "" && !accountPattern.MatchString(s.Account) {
		fail("account", fmt.Errorf("%q is not a 12-digit AWS account id", s.Account))
	}
	if e.Expires != "" {
		d, err := time.Parse(time.DateOnly, e.Expires)
		if err != nil {
			fail("expires", fmt.Errorf("%q is not a date (want YYYY-MM-DD, the last day the entry applies, UTC)", e.Expires))
		}
		s.Expires = d.AddDate(0, 0, 1)
	}
	if s.Reason == "" {
		fail("reason", errors.New("required: say why the entry exists; it is shown with every finding it suppresses"))
	}
	if !narrows(e) {
		errs = append(errs, c.errorf(at, "matches every finding of %s; name at least one of principal, event_name, target, user_agent, invoked_by, source_cidr, source_asn or account (to mute a detector, set detectors.%s.enabled: false)", detectorsNamed(s.Detector), mutedID(s.Detector)))
	}
	return s, errs
}

// narrows reports whether an entry names anything besides its detector
// (and its expiry, which limits when, not what).
func narrows(e Suppress) bool {
	return e.Principal != "" || len(e.EventName) > 0 || len(e.Target) > 0 || e.UserAgent != "" ||
		e.InvokedBy != "" || e.SourceCIDR != "" || e.SourceASN != "" || e.Account != ""
}

func mutedID(id string) string {
	if id == "*" {
		return "<id>"
	}
	return id
}

func detectorsNamed(id string) string {
	if id == "*" {
		return "every detector"
	}
	return id
}

// checkEventName checks an event_name pattern: CloudTrail's eventName, not
// the IAM action ("iam:AttachRolePolicy") people often write.
func checkEventName(n string) error {
	switch {
	case n == "":
		return errors.New("empty pattern")
	case strings.Contains(n, ":"):
		_, name, _ := strings.Cut(n, ":")
		return fmt.Errorf("%q is an IAM action; event_name takes CloudTrail's eventName (%q)", n, name)
	case !eventNamePattern.MatchString(n):
		return fmt.Errorf("%q is not an event name pattern (letters and digits, '*' and '?')", n)
	}
	return nil
}

// sourceASN parses a source_asn value ("16509" or "AS16509"); it needs an
// ASN database to resolve addresses with.
func (c *Config) sourceASN(v string, geo detectors.GeoLookup) (uint32, error) {
	digits := strings.TrimPrefix(strings.TrimPrefix(v, "AS"), "as")
	n, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not an autonomous system number (want e.g. 16509 or AS16509)", v)
	}
	if !c.hasASNDatabase(geo) {
		return 0, errors.New("needs an ASN database (geoip.asn_db): without one no address resolves to a network, so the entry would match nothing")
	}
	return uint32(n), nil
}

// typed is implemented by GeoIP readers that say which databases they
// hold, by configuration key (detectors/geoip.DB: "country_db", "asn_db").
type typed interface{ Types() map[string]string }

// hasASNDatabase reports whether addresses resolve to autonomous systems:
// by the databases geo holds when it says, by the geoip.asn_db key when
// there is no geo yet (ParseAndBuild, which opens nothing).
func (c *Config) hasASNDatabase(geo detectors.GeoLookup) bool {
	if t, ok := geo.(typed); ok {
		_, has := t.Types()["asn_db"]
		return has
	}
	return geo != nil || c.GeoIP.ASNDB != ""
}
