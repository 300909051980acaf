package builtin

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/internal/wildcard"
	"github.com/iamsentry/iamsentry/state"
)

// AssumeRoleUnexpectedSourceID is the stable id of the
// assume-role-unexpected-source detector.
const AssumeRoleUnexpectedSourceID = "assume-role-unexpected-source"

// assumeRoleEvents are the STS calls that hand out role credentials.
var assumeRoleEvents = []string{"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"}

// AssumeRoleUnexpectedSource raises a finding when a role is assumed from a
// network the organisation does not list in trusted_networks: a source IP
// outside trusted_networks.cidrs, not through an endpoint of
// trusted_networks.vpc_endpoints.
//
// MEDIUM; HIGH when the role matches privileged_roles. AWS services assuming
// roles are never unexpected, and sources that are not an IP (service
// names, "AWS Internal", malformed values) are skipped: there is no network
// to judge. Failed calls raise nothing: they hand out no credentials.
// Without trusted networks it raises nothing and says so in Notes.
//
// Private (RFC 1918, ULA) addresses are judged like any other unless
// trust_private_addresses is set: a private source means the call came
// through a VPC endpoint, and an endpoint that is not listed may be in a VPC
// that is not ours.
//
// One finding per (caller, role, source IP) per throttle period, so an
// automation loop assuming a role every minute from a new place raises one
// finding, not a storm. It keeps only that throttle.
type AssumeRoleUnexpectedSource struct {
	info     detectors.Info
	settings *detectors.Settings
	opts     AssumeRoleUnexpectedSourceOptions
}

// AssumeRoleUnexpectedSourceOptions are the keys under
// detectors.assume-role-unexpected-source.
type AssumeRoleUnexpectedSourceOptions struct {
	// Events are the STS calls judged; default all three AssumeRole calls.
	Events []string `yaml:"events"`
	// IgnoreRoles are wildcard patterns of role ARNs never judged (e.g. CI
	// roles assumed with web identity from the CI provider's runners).
	IgnoreRoles []string `yaml:"ignore_roles"`
	// TrustPrivateAddresses treats private and loopback sources as trusted.
	TrustPrivateAddresses bool `yaml:"trust_private_addresses"`
	// ThrottleMinutes is the period of one finding per (caller, role,
	// source IP); 0 raises on every event. Default 60.
	ThrottleMinutes int `yaml:"throttle_minutes"`
}

// DefaultAssumeRoleUnexpectedSourceOptions returns the defaults.
func DefaultAssumeRoleUnexpectedSourceOptions() AssumeRoleUnexpectedSourceOptions {
	return AssumeRoleUnexpectedSourceOptions{Events: slices.Clone(assumeRoleEvents), ThrottleMinutes: 60}
}

// NewAssumeRoleUnexpectedSource returns the detector configured by cfg.
func NewAssumeRoleUnexpectedSource(cfg detectors.Config) (detectors.Detector, error) {
	opts := DefaultAssumeRoleUnexpectedSourceOptions()
	if err := cfg.Decode(&opts); err != nil {
		return nil, fmt.Errorf("%s: %w", AssumeRoleUnexpectedSourceID, err)
	}
	var errs []error
	for _, e := range opts.Events {
		if !slices.Contains(assumeRoleEvents, e) {
			errs = append(errs, &detectors.OptionError{Key: "events", Reason: fmt.Sprintf("%q is not one of %v", e, assumeRoleEvents)})
		}
	}
	if len(opts.Events) == 0 {
		errs = append(errs, &detectors.OptionError{Key: "events", Reason: "empty: disable the detector instead"})
	}
	if opts.ThrottleMinutes < 0 {
		errs = append(errs, &detectors.OptionError{Key: "throttle_minutes", Reason: "must be 0 (off) or more"})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := cfg.OrgSettings()
	return &AssumeRoleUnexpectedSource{settings: s, opts: opts, info: detectors.Info{
		ID:    AssumeRoleUnexpectedSourceID,
		Title: "Role assumed from an untrusted network",
		Description: "A successful AssumeRole, AssumeRoleWithSAML or AssumeRoleWithWebIdentity came from a source IP " +
			"outside trusted_networks.cidrs and not through a VPC endpoint of trusted_networks.vpc_endpoints. " +
			"HIGH for a role matching privileged_roles. Off when no trusted networks are configured.",
		Severity:   detectors.SeverityMedium,
		Techniques: []string{"T1078.004"},
	}}, nil
}

// Info implements Detector.
func (d *AssumeRoleUnexpectedSource) Info() detectors.Info { return d.info }

// Notes implements Notable.
func (d *AssumeRoleUnexpectedSource) Notes() []string {
	s := d.settings
	var notes []string
	switch {
	case !s.HasTrustedNetworks():
		notes = append(notes, "no trusted_networks (cidrs, vpc_endpoints) configured; "+
			"the detector raises nothing until they are")
	case len(s.TrustedCIDRs) == 0:
		notes = append(notes, "only trusted_networks.vpc_endpoints configured; "+
			"every role assumed from a public IP will be unexpected")
	}
	if d.opts.TrustPrivateAddresses {
		notes = append(notes, "trust_private_addresses is set; calls from private "+
			"addresses through any VPC endpoint are trusted")
	}
	return notes
}

// Observe implements Detector.
func (d *AssumeRoleUnexpectedSource) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	if r.EventSource != "sts.amazonaws.com" || !slices.Contains(d.opts.Events, r.EventName) {
		return nil
	}
	if !d.settings.HasTrustedNetworks() || r.Failed() || r.ServiceCaller() || !r.SourceIsIP() {
		return nil
	}
	if _, ok := d.settings.TrustedSource(r); ok {
		return nil
	}
	ip := r.SourceIP.Unmap()
	if d.opts.TrustPrivateAddresses && (ip.IsPrivate() || ip.IsLoopback()) {
		return nil
	}
	role := assumedRoleARN(r)
	for _, p := range d.opts.IgnoreRoles {
		if role != "" && wildcard.Match(p, role) {
			return nil
		}
	}
	f := d.finding(ev, role)
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) { return []detectors.Finding{f}, nil })
}

// assumedRoleARN returns requestParameters.roleArn, or "" when absent.
func assumedRoleARN(r *cloudtrail.Record) string {
	var p struct {
		RoleARN string `json:"roleArn"`
	}
	_ = r.Params(&p) // an odd shape leaves it empty
	return p.RoleARN
}

func (d *AssumeRoleUnexpectedSource) finding(ev *detectors.Event, role string) detectors.Finding {
	r := ev.Record
	s := d.settings
	sev, score := detectors.SeverityMedium, 60
	pattern, privileged := s.PrivilegedRole(role)
	if privileged {
		sev, score = detectors.SeverityHigh, 85
	}
	f := detectors.NewFinding(d.info, r, sev, score)
	f.Evidence["actor"] = detectors.Actor(r)
	f.Evidence["role_arn"] = role
	f.Evidence["source_ip"] = r.SourceIPAddress
	f.Evidence["trusted_cidrs"] = prefixList(s)
	f.Evidence["trusted_vpc_endpoints"] = strings.Join(s.TrustedVPCEndpoints, " ")
	if r.VPCEndpointID != "" {
		f.Evidence["vpc_endpoint_id"] = r.VPCEndpointID
	}
	if privileged {
		f.Evidence["privileged_pattern"] = pattern
	}
	roleName := role
	if roleName == "" {
		roleName = "a role not named in the record"
	}
	why := fmt.Sprintf("%s is outside trusted_networks.cidrs [%s]", r.SourceIPAddress, prefixList(s))
	switch {
	case r.VPCEndpointID != "":
		why += fmt.Sprintf(" and VPC endpoint %s is not in trusted_networks.vpc_endpoints [%s]",
			r.VPCEndpointID, strings.Join(s.TrustedVPCEndpoints, " "))
	case len(s.TrustedVPCEndpoints) > 0:
		why += " and the call came through no VPC endpoint of trusted_networks.vpc_endpoints"
	}
	f.Explanation = fmt.Sprintf("%s called %s for %s from %s: %s", detectors.Actor(r), r.EventName, roleName, r.SourceIPAddress, why)
	if privileged {
		f.Explanation += fmt.Sprintf("; the role matches privileged_roles pattern %q", pattern)
	}
	if d.opts.ThrottleMinutes > 0 {
		caller := r.StablePrincipal()
		// One incident per (caller, role, source) per period of event
		// time: the period is in the key, so a replay of a month raises
		// one finding per period, as live traffic would.
		period := time.Duration(d.opts.ThrottleMinutes) * time.Minute
		bucket := state.BucketStart(r.EventTime, period).Format(time.RFC3339)
		f.Once = detectors.OncePer(ev.Key("assume-src:"+caller, role+"|"+r.SourceIP.String()+"|"+bucket), period)
	}
	return f
}

func prefixList(s *detectors.Settings) string {
	parts := make([]string, len(s.TrustedCIDRs))
	for i, p := range s.TrustedCIDRs {
		parts[i] = p.String()
	}
	return strings.Join(parts, " ")
}
