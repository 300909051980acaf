package builtin

import (
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"time"
	"unicode"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// AccessKeyEnumerationID is the stable id of the access-key-enumeration
// detector.
const AccessKeyEnumerationID = "access-key-enumeration"

// AccessKeyEnumerationOptions are the keys under
// detectors.access-key-enumeration.
type AccessKeyEnumerationOptions struct {
	// Window is the main scale: reads are counted in windows of twice this
	// width aligned on it, so a burst of up to Window always lies whole in
	// one of them.
	Window time.Duration `yaml:"window"`
	// MinScore is the weighted score of distinct reads at which a burst
	// within Window is enumeration: each distinct "service:Action" counts
	// 1 (SensitiveWeight when sensitive), and each service beyond the first
	// adds 1 (4 at most).
	MinScore int `yaml:"min_score"`
	// BurstWindow is the short scale: a tool firing reads within about a
	// minute.
	BurstWindow time.Duration `yaml:"burst_window"`
	// BurstMinScore is the weighted score that makes a burst within
	// BurstWindow enumeration.
	BurstMinScore int `yaml:"burst_min_score"`
	// DripWindow is the slow scale: reads dripped over hours to stay under
	// the faster scales.
	DripWindow time.Duration `yaml:"drip_window"`
	// DripMinScore is the weighted score that makes reads within DripWindow
	// enumeration (raised at MEDIUM).
	DripMinScore int `yaml:"drip_min_score"`
	// Sensitive are the reads that map what an attacker wants most
	// (identities, secrets, keys, the organisation, the defences): a
	// service ("iam") or one action ("ssm:GetParameters"). Setting the key
	// replaces the default list.
	Sensitive []string `yaml:"sensitive"`
	// SensitiveWeight is what one distinct sensitive read counts.
	SensitiveWeight int `yaml:"sensitive_weight"`
	// HistoryDays is how many earlier days of each principal's reads are
	// kept to learn whether it enumerates every day (a CSPM scanner, a
	// crawler, terraform plans).
	HistoryDays int `yaml:"history_days"`
	// LearnDays is on how many of those days a principal must have made at
	// least MinScore distinct reads to be learned as a scanner. A learned
	// scanner is quiet unless it reads from a network or a sensitive
	// service new to it, or its day's distinct reads more than double its
	// usual.
	LearnDays int `yaml:"learn_days"`
	// FamiliarAfter is how long after a principal first read from a
	// network, or first read a service, the network or service counts as
	// its own.
	FamiliarAfter time.Duration `yaml:"familiar_after"`
	// IPv4Prefix is the prefix length a learned scanner's IPv4 networks
	// are compared on when no GeoIP ASN database is configured (with one,
	// networks are ASNs). Coarse by default: scanners and pipelines on
	// cloud runners draw addresses from all over their provider's blocks.
	IPv4Prefix int `yaml:"ipv4_prefix"`
	// IPv6Prefix is the same for IPv6 networks.
	IPv6Prefix int `yaml:"ipv6_prefix"`
	// IncludeConsole counts console sessions too. Off by default: one
	// console page fires a dozen Describe calls, so a person browsing five
	// services passes any threshold a tool would.
	IncludeConsole bool `yaml:"include_console"`
	// IgnoreActions are "service:Action" reads that are not
	// reconnaissance (data-plane reads, credential plumbing). Setting the
	// key replaces the default list.
	IgnoreActions []string `yaml:"ignore_actions"`
	// AllowedLateness is how late CloudTrail may deliver a record of a
	// burst; state and throttles outlive their windows by this much.
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
}

// DefaultAccessKeyEnumerationOptions returns the defaults.
func DefaultAccessKeyEnumerationOptions() AccessKeyEnumerationOptions {
	return AccessKeyEnumerationOptions{
		Window:        10 * time.Minute,
		MinScore:      15,
		BurstWindow:   time.Minute,
		BurstMinScore: 12,
		DripWindow:    6 * time.Hour,
		DripMinScore:  45,
		Sensitive: []string{
			"iam", "secretsmanager", "kms", "organizations", "sso", "identitystore", "cloudtrail",
			"guardduty", "securityhub", "access-analyzer", "sts:GetAccessKeyInfo",
			"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "ssm:DescribeParameters",
		},
		SensitiveWeight: 2,
		HistoryDays:     14,
		LearnDays:       2,
		FamiliarAfter:   24 * time.Hour,
		IPv4Prefix:      8,
		IPv6Prefix:      32,
		IgnoreActions: []string{
			// Credential plumbing: readOnly in CloudTrail, not discovery.
			"sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity",
			"sts:GetSessionToken", "sts:GetFederationToken", "ecr:GetAuthorizationToken",
			// Data-plane reads of workloads and CI (object, key, image pulls).
			"s3:GetObject", "s3:HeadObject", "kms:Decrypt", "kms:GenerateDataKey",
			"kms:GenerateDataKeyWithoutPlaintext", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
			"ecr:BatchCheckLayerAvailability", "dynamodb:GetItem", "dynamodb:BatchGetItem",
			"dynamodb:Query", "dynamodb:Scan",
		},
		AllowedLateness: detectors.AllowedLateness,
	}
}

func (o AccessKeyEnumerationOptions) validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &detectors.OptionError{Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	if o.BurstWindow < 10*time.Second {
		bad("burst_window", "%v is shorter than 10s", o.BurstWindow)
	}
	if o.Window <= o.BurstWindow {
		bad("window", "%v is not longer than burst_window (%v)", o.Window, o.BurstWindow)
	}
	if o.DripWindow <= o.Window || o.DripWindow > 24*time.Hour {
		bad("drip_window", "%v is not longer than window (%v) and at most 24h", o.DripWindow, o.Window)
	}
	for _, m := range []struct {
		key string
		v   int
	}{{"min_score", o.MinScore}, {"burst_min_score", o.BurstMinScore}, {"drip_min_score", o.DripMinScore}} {
		if m.v < 2 {
			bad(m.key, "%d is below 2", m.v)
		}
	}
	if o.SensitiveWeight < 1 || o.SensitiveWeight > 10 {
		bad("sensitive_weight", "%d is not between 1 and 10", o.SensitiveWeight)
	}
	if o.HistoryDays < 1 || o.HistoryDays > 60 {
		bad("history_days", "%d is not between 1 and 60", o.HistoryDays)
	}
	if o.LearnDays < 1 || o.LearnDays > o.HistoryDays {
		bad("learn_days", "%d is not between 1 and history_days (%d)", o.LearnDays, o.HistoryDays)
	}
	if o.FamiliarAfter < time.Hour {
		bad("familiar_after", "%v is shorter than 1h", o.FamiliarAfter)
	}
	if o.IPv4Prefix < 8 || o.IPv4Prefix > 32 {
		bad("ipv4_prefix", "%d is not between 8 and 32", o.IPv4Prefix)
	}
	if o.IPv6Prefix < 16 || o.IPv6Prefix > 128 {
		bad("ipv6_prefix", "%d is not between 16 and 128", o.IPv6Prefix)
	}
	if o.AllowedLateness < 0 {
		bad("allowed_lateness", "%v is negative", o.AllowedLateness)
	}
	for i, s := range o.Sensitive {
		if s == "" || strings.HasPrefix(s, ":") || strings.HasSuffix(s, ":") {
			bad(fmt.Sprintf("sensitive[%d]", i), "%q is not a service (iam) or service:Action", s)
		}
	}
	for i, a := range o.IgnoreActions {
		if svc, name, ok := strings.Cut(a, ":"); !ok || svc == "" || name == "" {
			bad(fmt.Sprintf("ignore_actions[%d]", i), "%q is not service:Action (e.g. s3:GetObject)", a)
		}
	}
	return errors.Join(errs...)
}

// AccessKeyEnumeration raises a finding when one stable principal (an IAM
// user across its keys, a role across its sessions, an Identity Center
// user) makes many distinct read-only calls across services: the shape of
// enumerate-iam, Pacu, ScoutSuite or a person with a stolen key finding out
// what it can do.
//
// Each scale (Window, BurstWindow, DripWindow) counts distinct reads in
// windows of twice its width aligned on it, so every span of the width lies
// whole in one and no edge halves a burst. Every read adds itself to the
// two windows of each scale that hold it and reads them in the same atomic
// step, so the last read of a window to arrive sees it whole, and the
// windows that cross, hence the incidents, are the same in any arrival
// order and batching (a read once counted the reads within the width
// either side of itself, which out of order saw later reads too, and a
// principal exactly at the threshold alerted on some runs only). The
// incident is the window's, by the period of its middle. A principal's
// windows of a scale live in two sets, one per grid of non-overlapping
// windows, its members tagged with their window (see enumGrid), so its
// state is bounded by the widest scale rather than by how long it reads.
// Distinct reads are weighted by meaning (sensitive services count more;
// services beyond the first add), so splitting a burst over keys,
// sessions, services or a window edge does not slip under a cliff.
//
// A principal that makes that many distinct reads on most days (a CSPM
// scanner, a crawler, a terraform runner) is learned from a daily history
// and stays quiet while it reads from its usual networks and services at
// its usual breadth. One finding per principal per six hours of event time
// (per day for the slow scale).
type AccessKeyEnumeration struct {
	info      detectors.Info
	opts      AccessKeyEnumerationOptions
	settings  *detectors.Settings
	ignore    map[string]bool
	sensitive map[string]bool
	// sensitiveSvc files each Sensitive entry under the service it names
	// and the service its action maps (see sensitiveRead); sensitiveSvcs
	// rules most other services out before the lookup.
	sensitiveSvc  map[string]sensitiveIn
	sensitiveSvcs *nameFilter
	sc            [3]enumScale // the scales, fixed by opts (see newScales)
	reads         *enumReads   // what each API's reads count as (see read)
	netKeys       *enumNetKeys // the key names of networks' first reads
}

// NewAccessKeyEnumeration builds the detector from cfg, rejecting bad
// options with *OptionError values, joined.
func NewAccessKeyEnumeration(cfg detectors.Config) (detectors.Detector, error) {
	opts := DefaultAccessKeyEnumerationOptions()
	if err := cfg.Decode(&opts); err != nil {
		return nil, err
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	d := &AccessKeyEnumeration{
		info: detectors.Info{
			ID:    AccessKeyEnumerationID,
			Title: "Principal enumerating resources across services",
			Description: fmt.Sprintf("One principal (an IAM user across its keys, a role across its sessions, "+
				"an Identity Center user) made distinct read-only calls (List/Describe/Get/Head/Search or readOnly; "+
				"Cloud Control per resource type) worth a score of at least %d within %v, %d within %v, or %d within "+
				"%v (MEDIUM) of event time; sensitive reads (IAM, secrets, KMS, organizations, ...) count %d, each "+
				"service beyond the first adds 1, denied calls raise the score. Principals that read this broadly "+
				"every day are learned as scanners and raise only when their network, services or breadth change.",
				opts.MinScore, opts.Window, opts.BurstMinScore, opts.BurstWindow, opts.DripMinScore, opts.DripWindow, opts.SensitiveWeight),
			Severity:   detectors.SeverityHigh,
			Techniques: []string{"T1087.004", "T1580", "T1526"},
		},
		opts:     opts,
		settings: cfg.OrgSettings(),
		ignore:   make(map[string]bool, len(opts.IgnoreActions)),
		reads:    &enumReads{seed: maphash.MakeSeed()},
		netKeys:  &enumNetKeys{seed: maphash.MakeSeed()},
	}
	for _, a := range opts.IgnoreActions {
		d.ignore[a] = true
	}
	d.setSensitive(opts.Sensitive)
	d.sc = newScales(opts)
	return d, nil
}

// Info implements Detector.
func (d *AccessKeyEnumeration) Info() detectors.Info { return d.info }

// Notes implements Notable: without GeoIP, networks are prefixes.
func (d *AccessKeyEnumeration) Notes() []string {
	if d.settings.GeoIP != nil {
		return nil
	}
	return []string{fmt.Sprintf("no GeoIP database configured (geoip.asn_db); a learned scanner's networks are "+
		"compared as /%d (IPv4) and /%d (IPv6) prefixes, and a new one is raised at MEDIUM", d.opts.IPv4Prefix, d.opts.IPv6Prefix)}
}

// Observe implements Detector.
func (d *AccessKeyEnumeration) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	ak := r.UserIdentity.AccessKeyID
	if ak == "" || !ReconRead(r) || r.ServiceCaller() {
		return nil
	}
	if !d.opts.IncludeConsole && consoleSession(r) {
		return nil
	}
	read := d.read(r)
	if read.ignored {
		return nil
	}
	return d.observe(ev, b, read)
}

// ReconRead reports whether r is a read that can serve reconnaissance: an
// API call whose name starts with List, Describe, Get, Head or Search (the
// verb followed by an upper-case letter), or that CloudTrail marks readOnly.
// Console sign-ins and events AWS services record about themselves are not
// calls a caller made.
func ReconRead(r *cloudtrail.Record) bool {
	if r.EventType != "" && r.EventType != "AwsApiCall" {
		return false
	}
	if r.ReadOnly == cloudtrail.ReadOnlyTrue {
		return true
	}
	for _, verb := range [...]string{"List", "Describe", "Get", "Head", "Search"} {
		if rest, ok := strings.CutPrefix(r.EventName, verb); ok && rest != "" && unicode.IsUpper(rune(rest[0])) {
			return true
		}
	}
	return false
}

// enumAction names the read as counted ("service:Action") and the service it
// maps. Cloud Control reads count per resource type, and map the service of
// the type: ListResources over twenty types is twenty reads of twenty
// services, as the same discovery through each service's own API would be.
func enumAction(r *cloudtrail.Record) (action, svc string) {
	svc = serviceOf(r.EventSource)
	action = svc + ":" + r.EventName
	if svc != "cloudcontrolapi" {
		return action, svc
	}
	var p struct {
		TypeName string `json:"typeName"`
	}
	// A type name is "AWS::Service::Resource" or a registered
	// "Org::Service::Resource": short. Anything else counts as the bare
	// action rather than growing state with what the caller sent.
	if err := r.Params(&p); err != nil || p.TypeName == "" || len(p.TypeName) > 128 || strings.ContainsAny(p.TypeName, "()!") {
		return action, svc
	}
	return action + "(" + p.TypeName + ")", cloudControlService(p.TypeName)
}

// cloudControlService maps a resource type ("AWS::SecretsManager::Secret")
// to the service it belongs to ("secretsmanager").
func cloudControlService(typeName string) string {
	parts := strings.Split(typeName, "::")
	if len(parts) < 2 || parts[1] == "" {
		return "cloudcontrolapi"
	}
	return strings.ToLower(parts[1])
}
