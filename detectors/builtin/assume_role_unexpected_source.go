package builtin

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/internal/wildcard"
	"github.com/iamsentry/iamsentry/state"
)

// AssumeRoleUnexpectedSourceID is the stable id of the
// assume-role-unexpected-source detector.
const AssumeRoleUnexpectedSourceID = "assume-role-unexpected-source"

// assumeRoleEvents are the calls that hand a person or a workload role
// credentials: the three STS calls, the console sign-in of a federated or
// IAM Identity Center session, and Identity Center's GetRoleCredentials.
var assumeRoleEvents = []string{"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "ConsoleLogin", "GetRoleCredentials"}

// assumeRoleSources are the event sources of assumeRoleEvents.
var assumeRoleSources = map[string]string{
	"AssumeRole": "sts.amazonaws.com", "AssumeRoleWithSAML": "sts.amazonaws.com",
	"AssumeRoleWithWebIdentity": "sts.amazonaws.com", "ConsoleLogin": "signin.amazonaws.com",
	"GetRoleCredentials": "sso.amazonaws.com",
}

// signInSource reports whether src is one of assumeRoleSources' sources
// (TestSignInSourceHoldsEverySource): Observe asks it before looking the
// event name up, as most records come from other services and a string
// switch rejects them for less than a map lookup.
func signInSource(src string) bool {
	switch src {
	case "sts.amazonaws.com", "signin.amazonaws.com", "sso.amazonaws.com":
		return true
	}
	return false
}

// AssumeRoleUnexpectedSource judges every role sign-in against the networks
// the person behind it used before. The person is the SAML subject, the
// web-identity subject, the IAM Identity Center user, the source identity
// of a session, or, for AssumeRole by a user or a workload, the caller's
// stable principal: never the role, which a team shares.
//
// A network is the autonomous system and country of the source with GeoIP
// databases (all of AWS counts as one network, "aws"), and a network
// prefix without them; a VPC endpoint is a network of its own.
// trusted_networks are an allow-list on top: never judged, and never one of
// the person's networks, but their sign-ins are the person's history (when
// it started, the latest sign-in, the country, a workload's roles), so an
// office worker's first sign-in outside them is judged as an established
// person's (learnTrusted).
//
// After a person's warm-up: a network the person used in the window is
// quiet; a new ASN is MEDIUM (LOW when many of the organisation's people
// use it), a new country, a hosting/VPN/Tor network, or a caller seen only
// inside AWS now outside it is HIGH; and an AWS workload assuming a role it
// never assumed before is MEDIUM. During the warm-up a person only learns,
// unless the network is a hosting one nobody in the organisation uses
// (HIGH) or, once the organisation has history, a network none of its
// people has used for org_settle (MEDIUM). A privileged role raises the severity one step. One
// finding per (person, role, network) per day.
type AssumeRoleUnexpectedSource struct {
	info     detectors.Info
	settings *detectors.Settings
	opts     AssumeRoleUnexpectedSourceOptions
}

// AssumeRoleUnexpectedSourceOptions are the keys under
// detectors.assume-role-unexpected-source.
type AssumeRoleUnexpectedSourceOptions struct {
	// Events are the sign-in calls judged; default all of AssumeRole,
	// AssumeRoleWithSAML, AssumeRoleWithWebIdentity, ConsoleLogin (of
	// federated and Identity Center sessions) and GetRoleCredentials.
	Events []string `yaml:"events"`
	// IgnoreRoles are wildcard patterns of role ARNs never judged.
	IgnoreRoles []string `yaml:"ignore_roles"`
	// TrustPrivateAddresses treats private and loopback sources as trusted.
	TrustPrivateAddresses bool `yaml:"trust_private_addresses"`
	// Window is how long a network stays known for a person after it was
	// last used (sliding: every sign-in refreshes it).
	Window time.Duration `yaml:"window"`
	// WarmUp is how much history (event time since a person was first
	// seen) a person needs before a network new to them raises; younger
	// histories only learn, except on networks the organisation does not
	// know.
	WarmUp time.Duration `yaml:"warm_up"`
	// OrgCommonPeople is how many other people of the organisation must
	// have used a network in the window, each first at least org_settle
	// before, for it to count as common: a common network is LOW after a
	// person's warm-up.
	OrgCommonPeople int `yaml:"org_common_people"`
	// OrgSettle is how long before a sign-in a colleague must first have
	// used its network to count toward the network's prevalence. People
	// new on a network do not count yet, so a thief reusing one network
	// across several stolen credentials, a victim a day, does not make it
	// the organisation's: every victim is judged as on a network nobody
	// uses. Longer makes the thief wait longer, and an organisation's
	// first weeks noisier; at or beyond window no network is ever common.
	OrgSettle time.Duration `yaml:"org_settle"`
	// ImpossibleTravel is how soon after a sign-in elsewhere a sign-in
	// from a country new to the person is HIGH (nobody travelled between
	// them: concurrent use). A new country after a longer gap is a trip:
	// LOW, together with the trip's new network.
	ImpossibleTravel time.Duration `yaml:"impossible_travel"`
	// IPv4Prefix is the length of the IPv4 prefixes that stand for a
	// network when no GeoIP database knows the address.
	IPv4Prefix int `yaml:"ipv4_prefix"`
	// IPv6Prefix is the length of the IPv6 prefixes that stand for a
	// network when no GeoIP database knows the address.
	IPv6Prefix int `yaml:"ipv6_prefix"`
}

// DefaultAssumeRoleUnexpectedSourceOptions returns the defaults.
func DefaultAssumeRoleUnexpectedSourceOptions() AssumeRoleUnexpectedSourceOptions {
	return AssumeRoleUnexpectedSourceOptions{
		Events: slices.Clone(assumeRoleEvents), Window: 90 * 24 * time.Hour, WarmUp: 7 * 24 * time.Hour,
		OrgCommonPeople: 5, OrgSettle: 4 * 24 * time.Hour, ImpossibleTravel: 4 * time.Hour, IPv4Prefix: 16, IPv6Prefix: 48,
	}
}

func (o AssumeRoleUnexpectedSourceOptions) validate() error {
	var errs []error
	for _, e := range o.Events {
		if !slices.Contains(assumeRoleEvents, e) {
			errs = append(errs, &detectors.OptionError{Key: "events", Reason: fmt.Sprintf("%q is not one of %v", e, assumeRoleEvents)})
		}
	}
	if len(o.Events) == 0 {
		errs = append(errs, &detectors.OptionError{Key: "events", Reason: "empty: disable the detector instead"})
	}
	if o.Window <= 0 {
		errs = append(errs, &detectors.OptionError{Key: "window", Reason: "must be positive"})
	}
	if o.WarmUp < 0 || o.WarmUp >= o.Window {
		errs = append(errs, &detectors.OptionError{Key: "warm_up", Reason: fmt.Sprintf("must lie in [0, window=%v)", o.Window)})
	}
	if o.ImpossibleTravel < 0 || o.ImpossibleTravel > o.Window {
		errs = append(errs, &detectors.OptionError{Key: "impossible_travel", Reason: fmt.Sprintf("must lie in [0, window=%v]", o.Window)})
	}
	if o.OrgSettle < 0 {
		errs = append(errs, &detectors.OptionError{Key: "org_settle", Reason: "must not be negative"})
	}
	if o.OrgCommonPeople < 1 {
		errs = append(errs, &detectors.OptionError{Key: "org_common_people", Reason: "must be 1 or more"})
	}
	if o.IPv4Prefix < 8 || o.IPv4Prefix > 32 {
		errs = append(errs, &detectors.OptionError{Key: "ipv4_prefix", Reason: "must lie in [8, 32]"})
	}
	if o.IPv6Prefix < 16 || o.IPv6Prefix > 128 {
		errs = append(errs, &detectors.OptionError{Key: "ipv6_prefix", Reason: "must lie in [16, 128]"})
	}
	return errors.Join(errs...)
}

// NewAssumeRoleUnexpectedSource returns the detector configured by cfg.
func NewAssumeRoleUnexpectedSource(cfg detectors.Config) (detectors.Detector, error) {
	opts := DefaultAssumeRoleUnexpectedSourceOptions()
	if err := cfg.Decode(&opts); err != nil {
		return nil, fmt.Errorf("%s: %w", AssumeRoleUnexpectedSourceID, err)
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &AssumeRoleUnexpectedSource{settings: cfg.OrgSettings(), opts: opts, info: detectors.Info{
		ID:    AssumeRoleUnexpectedSourceID,
		Title: "Role sign-in from a network new to the person",
		Description: "A role sign-in (AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity, a federated or " +
			"Identity Center ConsoleLogin, GetRoleCredentials) came from a network the person behind it (SAML subject, " +
			"web-identity subject, Identity Center user, source identity, or the calling principal) did not use in the last " +
			detectors.Days(opts.Window) + ": MEDIUM for a new ASN, HIGH for a hosting/VPN/Tor network or for a new country within " +
			opts.ImpossibleTravel.String() + " of a sign-in elsewhere (impossible travel), LOW for a new country after a longer gap (a trip), " +
			"MEDIUM when a workload (automation, CI, a vendor) assumes a role it never assumed. People learn for " + detectors.Days(opts.WarmUp) +
			" first; trusted_networks are never judged but count as history; privileged_roles raise one step.",
		Severity:   detectors.SeverityMedium,
		Techniques: []string{"T1078.004"},
	}}, nil
}

// Info implements Detector.
func (d *AssumeRoleUnexpectedSource) Info() detectors.Info { return d.info }

// Notes implements Notable.
func (d *AssumeRoleUnexpectedSource) Notes() []string {
	var notes []string
	if d.settings.GeoIP == nil {
		notes = append(notes, fmt.Sprintf("no GeoIP database configured (geoip.country_db, geoip.asn_db); "+
			"networks are /%d IPv4 and /%d IPv6 prefixes, so a new country, a hosting network or AWS cannot be told apart",
			d.opts.IPv4Prefix, d.opts.IPv6Prefix))
	}
	if d.opts.TrustPrivateAddresses {
		notes = append(notes, "trust_private_addresses is set; calls from private "+
			"addresses through any VPC endpoint are trusted")
	}
	return notes
}

// Interests implements detectors.Selective: the calls of
// assumeRoleSources, whichever the Events option picks of them.
func (d *AssumeRoleUnexpectedSource) Interests() []detectors.Call {
	calls := make([]detectors.Call, 0, len(assumeRoleSources))
	for name, source := range assumeRoleSources {
		calls = append(calls, detectors.Call{Source: source, Name: name})
	}
	return calls
}

// Observe implements Detector.
func (d *AssumeRoleUnexpectedSource) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	if !signInSource(r.EventSource) {
		return nil
	}
	if src, ok := assumeRoleSources[r.EventName]; !ok || r.EventSource != src || !slices.Contains(d.opts.Events, r.EventName) {
		return nil
	}
	if r.Failed() || r.UserIdentity.Type == "AWSService" || !signedIn(r) {
		return nil
	}
	trusted := d.settings.SourceTrusted(ev)
	role := signInRole(ev)
	for _, p := range d.opts.IgnoreRoles {
		if role != "" && wildcard.Match(p, role) {
			return nil
		}
	}
	who, ok := signInPerson(r)
	if !ok {
		return nil
	}
	net, ok := d.place(ev)
	if !ok {
		return nil
	}
	if trusted {
		d.learnTrusted(ev, b, who, role, net)
		return nil
	}
	return d.observe(ev, b, who, role, net)
}
