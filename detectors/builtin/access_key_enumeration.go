package builtin

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
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

// enumSample is how many actions and services a finding names as evidence.
const enumSample = 8

// AccessKeyEnumerationOptions are the keys under
// detectors.access-key-enumeration.
type AccessKeyEnumerationOptions struct {
	// Window is the width of the event-time windows reads are counted in.
	Window time.Duration `yaml:"window"`
	// MinActions is how many distinct read-only actions ("service:Action")
	// one key must call in a window.
	MinActions int `yaml:"min_actions"`
	// MinServices is how many distinct services those actions must span.
	MinServices int `yaml:"min_services"`
	// IncludeConsole counts console sessions too. Off by default: one
	// console page fires a dozen Describe calls, so a person browsing five
	// services passes any threshold a tool would.
	IncludeConsole bool `yaml:"include_console"`
	// IgnoreActions are "service:Action" reads that are not
	// reconnaissance (data-plane reads, credential plumbing). Setting the
	// key replaces the default list.
	IgnoreActions []string `yaml:"ignore_actions"`
	// AllowedLateness is how late CloudTrail may deliver a record of a
	// window; state and throttles outlive the window by this much.
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
}

// DefaultAccessKeyEnumerationOptions returns the defaults.
func DefaultAccessKeyEnumerationOptions() AccessKeyEnumerationOptions {
	return AccessKeyEnumerationOptions{
		Window:      10 * time.Minute,
		MinActions:  15,
		MinServices: 3,
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
	if o.Window < time.Minute {
		errs = append(errs, &detectors.OptionError{Key: "window", Reason: fmt.Sprintf("%v is shorter than 1m", o.Window)})
	}
	if o.MinActions < 2 {
		errs = append(errs, &detectors.OptionError{Key: "min_actions", Reason: fmt.Sprintf("%d is below 2", o.MinActions)})
	}
	if o.MinServices < 1 || o.MinServices > o.MinActions {
		errs = append(errs, &detectors.OptionError{Key: "min_services", Reason: fmt.Sprintf("%d is not between 1 and min_actions (%d)", o.MinServices, o.MinActions)})
	}
	if o.AllowedLateness < 0 {
		errs = append(errs, &detectors.OptionError{Key: "allowed_lateness", Reason: fmt.Sprintf("%v is negative", o.AllowedLateness)})
	}
	for i, a := range o.IgnoreActions {
		if svc, name, ok := strings.Cut(a, ":"); !ok || svc == "" || name == "" {
			errs = append(errs, &detectors.OptionError{Key: fmt.Sprintf("ignore_actions[%d]", i), Reason: fmt.Sprintf("%q is not service:Action (e.g. s3:GetObject)", a)})
		}
	}
	return errors.Join(errs...)
}

// AccessKeyEnumeration raises a finding when one access key calls many
// distinct read-only actions across several services within a window of
// event time: the shape of enumerate-iam, Pacu, ScoutSuite or a person with
// a stolen key finding out what it can do.
//
// Windows are aligned to multiples of Window since the Unix epoch. Per key
// and window it keeps three windowed sets: the actions, their services, and
// the actions that were denied. Sets only grow, so the window's counts after
// a burst do not depend on the order its records arrived in, and the
// threshold is crossed exactly once per key and window whatever that order:
// shuffled delivery raises the incidents sorted delivery does. Every record
// that sees the threshold met proposes a finding with Once on the key and
// window; the engine keeps the first.
type AccessKeyEnumeration struct {
	info   detectors.Info
	opts   AccessKeyEnumerationOptions
	ignore map[string]bool
	ttl    time.Duration
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
			Title: "Access key enumerating resources across services",
			Description: fmt.Sprintf("One access key called at least %d distinct read-only actions "+
				"(List/Describe/Get/Head/Search or readOnly) across at least %d services within %v of "+
				"event time; denied calls count and raise the score.", opts.MinActions, opts.MinServices, opts.Window),
			Severity:   detectors.SeverityHigh,
			Techniques: []string{"T1087.004", "T1580", "T1526"},
		},
		opts:   opts,
		ignore: make(map[string]bool, len(opts.IgnoreActions)),
		ttl:    opts.Window + opts.AllowedLateness,
	}
	for _, a := range opts.IgnoreActions {
		d.ignore[a] = true
	}
	return d, nil
}

// Info implements Detector.
func (d *AccessKeyEnumeration) Info() detectors.Info { return d.info }

// Observe implements Detector.
func (d *AccessKeyEnumeration) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	ak := r.UserIdentity.AccessKeyID
	if ak == "" || !ReconRead(r) {
		return nil
	}
	svc := serviceOf(r.EventSource)
	action := svc + ":" + r.EventName
	if d.ignore[action] || r.ServiceCaller() || (!d.opts.IncludeConsole && consoleSession(r)) {
		return nil
	}
	win := windowOf(r.EventTime, d.opts.Window)
	id, span := keyIdentity(ak), win.Span()
	e := &enumeration{d: d, r: r, win: win, once: ev.Key(id, "enum:once:"+win.ID())}
	actions := ev.Key(id, "enum:actions:"+win.ID())
	services := ev.Key(id, "enum:services:"+win.ID())
	denied := ev.Key(id, "enum:denied:"+win.ID())
	// Add and read in one operation per set: the count decides, the sample
	// explains (3 Redis scripts per read call, not 5).
	e.sample = b.WindowAddRead(actions, action, r.EventTime, span, enumSample, d.ttl)
	e.serviceList = b.WindowAddRead(services, svc, r.EventTime, span, enumSample, d.ttl)
	if r.Denied() {
		e.denied = b.WindowAdd(denied, action, r.EventTime, span, d.ttl)
	} else {
		e.deniedRead = b.WindowRead(denied, span, 0)
	}
	return detectors.EvaluationFunc(e.findings)
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

// enumeration is one read being evaluated.
type enumeration struct {
	d          *AccessKeyEnumeration
	r          *cloudtrail.Record
	win        window
	once       state.Key
	denied     *state.Future[int]
	deniedRead *state.Future[state.Window]

	sample, serviceList *state.Future[state.Window]
}

func (e *enumeration) findings() ([]detectors.Finding, error) {
	sample, err := e.sample.Get()
	if err != nil {
		return nil, err
	}
	services, err := e.serviceList.Get()
	if err != nil {
		return nil, err
	}
	nActions, nServices := sample.Count, services.Count
	if nActions < e.d.opts.MinActions || nServices < e.d.opts.MinServices {
		return nil, nil
	}
	nDenied, err := e.deniedCount()
	if err != nil {
		return nil, err
	}
	score := 70 + min(15, (nActions-e.d.opts.MinActions)/2)
	if nDenied > 0 {
		score += min(10, 2*nDenied)
	}
	f := detectors.NewFinding(e.d.info, e.r, e.d.info.Severity, score)
	f.Once = &detectors.Once{Key: e.once, TTL: e.d.ttl}
	f.Evidence["distinct_actions"] = strconv.Itoa(nActions)
	f.Evidence["distinct_services"] = strconv.Itoa(nServices)
	f.Evidence["services"] = strings.Join(sorted(services.Members), ",")
	f.Evidence["sample_actions"] = strings.Join(sample.Members, ",")
	f.Evidence["denied_actions"] = strconv.Itoa(nDenied)
	f.Evidence["window_start"] = e.win.Start.Format(time.RFC3339)
	f.Evidence["window_end"] = e.win.End().Format(time.RFC3339)
	f.Explanation = e.explain(nActions, nServices, nDenied, sample.Members, services.Members)
	return []detectors.Finding{f}, nil
}

func (e *enumeration) deniedCount() (int, error) {
	if e.denied != nil {
		return e.denied.Get()
	}
	w, err := e.deniedRead.Get()
	return w.Count, err
}

func (e *enumeration) explain(nActions, nServices, nDenied int, sample, services []string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "access key %s (%s) made %d distinct read-only calls across %d services",
		e.r.UserIdentity.AccessKeyID, detectors.Actor(e.r), nActions, nServices)
	if nServices > len(services) {
		fmt.Fprintf(&sb, " (%s, …)", strings.Join(sorted(services), ", "))
	} else {
		fmt.Fprintf(&sb, " (%s)", strings.Join(sorted(services), ", "))
	}
	fmt.Fprintf(&sb, " in the %v window %s of event time", e.d.opts.Window, e.win)
	if nDenied > 0 {
		fmt.Fprintf(&sb, "; %d distinct calls were denied", nDenied)
	}
	fmt.Fprintf(&sb, "; first calls: %s", strings.Join(sample, ", "))
	if e.r.SourceIPAddress != "" {
		fmt.Fprintf(&sb, "; source %s", e.r.SourceIPAddress)
	}
	return sb.String()
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
