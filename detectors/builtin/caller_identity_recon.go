package builtin

import (
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// CallerIdentityReconID is the stable id of the caller-identity-recon
// detector.
const CallerIdentityReconID = "caller-identity-recon"

// reconSample is how many listing calls a finding names.
const reconSample = 5

// reconListing are the calls that, next to GetCallerIdentity, show a key's
// holder finding out what it can reach: its buckets, and the permissions
// attached to identities.
var reconListing = map[string]bool{
	"s3.amazonaws.com/ListBuckets":                     true,
	"iam.amazonaws.com/ListPolicies":                   true,
	"iam.amazonaws.com/ListAttachedUserPolicies":       true,
	"iam.amazonaws.com/ListAttachedRolePolicies":       true,
	"iam.amazonaws.com/ListAttachedGroupPolicies":      true,
	"iam.amazonaws.com/ListUserPolicies":               true,
	"iam.amazonaws.com/ListRolePolicies":               true,
	"iam.amazonaws.com/ListGroupPolicies":              true,
	"iam.amazonaws.com/GetPolicy":                      true,
	"iam.amazonaws.com/GetPolicyVersion":               true,
	"iam.amazonaws.com/GetUserPolicy":                  true,
	"iam.amazonaws.com/GetRolePolicy":                  true,
	"iam.amazonaws.com/GetGroupPolicy":                 true,
	"iam.amazonaws.com/GetAccountAuthorizationDetails": true,
}

// CallerIdentityReconOptions are the keys under
// detectors.caller-identity-recon.
type CallerIdentityReconOptions struct {
	// Window is how far apart in event time GetCallerIdentity and a listing
	// call may be, in either order.
	Window time.Duration `yaml:"window"`
	// EscalationWindow is how long before the pair a new-location mark on
	// the key makes the finding HIGH.
	EscalationWindow time.Duration `yaml:"escalation_window"`
	// IncludeConsole counts console sessions too (the S3 console lists
	// buckets on every visit).
	IncludeConsole bool `yaml:"include_console"`
	// AllowedLateness is how late CloudTrail may deliver one call of a
	// pair after the other.
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
}

// DefaultCallerIdentityReconOptions returns the defaults.
func DefaultCallerIdentityReconOptions() CallerIdentityReconOptions {
	return CallerIdentityReconOptions{Window: 5 * time.Minute, EscalationWindow: time.Hour, AllowedLateness: detectors.AllowedLateness}
}

func (o CallerIdentityReconOptions) validate() error {
	var errs []error
	if o.Window < time.Second {
		errs = append(errs, &detectors.OptionError{Key: "window", Reason: fmt.Sprintf("%v is shorter than 1s", o.Window)})
	}
	if o.EscalationWindow < 0 || o.EscalationWindow > detectors.NewLocationMarkTTL-detectors.AllowedLateness {
		errs = append(errs, &detectors.OptionError{Key: "escalation_window", Reason: fmt.Sprintf("%v is not between 0 and %v (how long the new-location mark is kept, less the lateness)",
			o.EscalationWindow, detectors.NewLocationMarkTTL-detectors.AllowedLateness)})
	}
	if o.AllowedLateness < 0 {
		errs = append(errs, &detectors.OptionError{Key: "allowed_lateness", Reason: fmt.Sprintf("%v is negative", o.AllowedLateness)})
	}
	return errors.Join(errs...)
}

// CallerIdentityRecon raises a finding when an access key calls
// sts:GetCallerIdentity and, within Window of event time before or after,
// lists buckets or IAM permissions: the first two moves of someone who just
// found a key (TruffleHog, Pacu, a leaked .env) and checks whose it is and
// what it may do. MEDIUM; HIGH when the key was seen from a new location
// (NewLocationMark) within the hour before.
//
// Per key and aligned Window-wide window it keeps two windowed sets of
// event times: GetCallerIdentity calls and listing calls, one member per
// call time. Whichever call of a pair arrives second finds the first in the
// other sets by reading [t−Window, t+Window], so the pair is found in either
// arrival order. A set per window, rather than one per key, matters when
// concurrent streams deliver a key's calls far out of event-time order: a
// set trims members older than its newest add less the TTL, so one set per
// key let a call half an hour later erase the half of a pair whose partner
// was still in flight; a window's set only holds calls within Window of
// each other and expires by the clock (issue 13). An
// incident is the key and the aligned Window-wide window holding the
// GetCallerIdentity call; a listing call proposes a finding for every such
// window it pairs with, and Once on key+window keeps one per incident. Both
// make the incidents independent of arrival order.
type CallerIdentityRecon struct {
	info detectors.Info
	opts CallerIdentityReconOptions
	ttl  time.Duration // of the sets: a partner may arrive Window+lateness later
	once time.Duration // of an incident: its window, a Window either side, lateness
}

// NewCallerIdentityRecon builds the detector from cfg, rejecting bad
// options with *OptionError values, joined.
func NewCallerIdentityRecon(cfg detectors.Config) (detectors.Detector, error) {
	opts := DefaultCallerIdentityReconOptions()
	if err := cfg.Decode(&opts); err != nil {
		return nil, err
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &CallerIdentityRecon{
		info: detectors.Info{
			ID:    CallerIdentityReconID,
			Title: "GetCallerIdentity followed by bucket or permission listing",
			Description: fmt.Sprintf("One access key called sts:GetCallerIdentity and, within %v before or after, "+
				"s3:ListBuckets or an IAM permission listing (ListAttached*Policies, Get*Policy, "+
				"GetAccountAuthorizationDetails, …). HIGH when the key was seen from a new location within %v before.",
				opts.Window, opts.EscalationWindow),
			Severity:   detectors.SeverityMedium,
			Techniques: []string{"T1087.004", "T1619"},
		},
		opts: opts,
		ttl:  opts.Window + opts.AllowedLateness,
		once: 3*opts.Window + opts.AllowedLateness,
	}, nil
}

// Info implements Detector.
func (d *CallerIdentityRecon) Info() detectors.Info { return d.info }

// Observe implements Detector.
func (d *CallerIdentityRecon) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	ak := r.UserIdentity.AccessKeyID
	isGCI := r.EventName == "GetCallerIdentity" && r.EventSource == "sts.amazonaws.com"
	if ak == "" || (!isGCI && !reconListing[r.EventSource+"/"+r.EventName]) {
		return nil
	}
	if r.ServiceCaller() || (!d.opts.IncludeConsole && consoleSession(r)) {
		return nil
	}
	id, t, w := keyIdentity(ak), r.EventTime, d.opts.Window
	around := state.Span{From: t.Add(-w), To: t.Add(w)}
	p := &pairing{d: d, ev: ev, r: r, id: id}
	p.mark = b.ReadMark(detectors.NewLocationMark(ev, ak))
	own := windowOf(t, w)
	if isGCI {
		b.WindowAdd(ev.Key(id, "recon:gci:"+own.ID()), stamp(t), t, own.Span(), d.ttl)
		for win, span := range windowsAround(around, w) {
			p.listings = append(p.listings, b.WindowRead(ev.Key(id, "recon:list:"+win.ID()), span, reconSample))
		}
		return detectors.EvaluationFunc(p.afterGCI)
	}
	b.WindowAdd(ev.Key(id, "recon:list:"+own.ID()), serviceOf(r.EventSource)+":"+r.EventName+"@"+stamp(t), t, own.Span(), d.ttl)
	// One read per incident window the GetCallerIdentity partner may lie
	// in: the windows that meet [t−w, t+w], each cut to that span.
	for win, span := range windowsAround(around, w) {
		p.gcis = append(p.gcis, gciRead{win: win, read: b.WindowRead(ev.Key(id, "recon:gci:"+win.ID()), span, 1)})
	}
	return detectors.EvaluationFunc(p.afterListing)
}

// windowsAround yields the aligned windows of width w that meet span, each
// with span cut to it.
func windowsAround(span state.Span, w time.Duration) iter.Seq2[window, state.Span] {
	return func(yield func(window, state.Span) bool) {
		for win := windowOf(span.From, w); !win.Start.After(span.To); win = windowOf(win.End(), w) {
			if !yield(win, state.Span{From: maxTime(win.Start, span.From), To: minTime(win.Span().To, span.To)}) {
				return
			}
		}
	}
}

// stamp renders an event time as a set member; parseStamp reads it back.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseStamp(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// pairing is one GetCallerIdentity or listing call being evaluated.
type pairing struct {
	d        *CallerIdentityRecon
	ev       *detectors.Event
	r        *cloudtrail.Record
	id       string
	mark     *state.Future[state.Mark]
	listings []*state.Future[state.Window] // for a GetCallerIdentity call: one per window, earliest first
	gcis     []gciRead                     // for a listing call
}

type gciRead struct {
	win  window
	read *state.Future[state.Window]
}

// reconCall is one side of a pair: what was called and when.
type reconCall struct {
	action string
	at     time.Time
}

func (p *pairing) afterGCI() ([]detectors.Finding, error) {
	var calls []reconCall
	n := 0
	for _, read := range p.listings {
		w, err := read.Get()
		if err != nil {
			return nil, err
		}
		n += w.Count
		for _, m := range w.Members {
			if len(calls) == reconSample {
				break
			}
			action, at, _ := strings.Cut(m, "@")
			t, err := parseStamp(at)
			if err != nil {
				return nil, fmt.Errorf("caller-identity-recon: listing member %q: %w", m, err)
			}
			calls = append(calls, reconCall{action, t})
		}
	}
	if n == 0 {
		return nil, nil
	}
	f, err := p.finding(p.r.EventTime, calls, n)
	if err != nil {
		return nil, err
	}
	return []detectors.Finding{f}, nil
}

func (p *pairing) afterListing() ([]detectors.Finding, error) {
	var out []detectors.Finding
	self := []reconCall{{serviceOf(p.r.EventSource) + ":" + p.r.EventName, p.r.EventTime}}
	for _, g := range p.gcis {
		w, err := g.read.Get()
		if err != nil {
			return nil, err
		}
		if w.Count == 0 {
			continue
		}
		at, err := parseStamp(w.Members[0])
		if err != nil {
			return nil, fmt.Errorf("caller-identity-recon: member %q: %w", w.Members[0], err)
		}
		f, err := p.finding(at, self, 1)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// finding builds the finding of the pair GetCallerIdentity at gciAt and
// calls (n listing calls in all), on the record being evaluated.
func (p *pairing) finding(gciAt time.Time, calls []reconCall, n int) (detectors.Finding, error) {
	mark, err := p.mark.Get()
	if err != nil {
		return detectors.Finding{}, err
	}
	win := windowOf(gciAt, p.d.opts.Window)
	earliest, latest := gciAt, gciAt
	for _, c := range calls {
		earliest, latest = minTime(earliest, c.at), maxTime(latest, c.at)
	}
	escalated := mark.Set && !mark.At.Before(earliest.Add(-p.d.opts.EscalationWindow)) && !mark.At.After(latest)
	sev, score := detectors.SeverityMedium, 55
	if escalated {
		sev, score = detectors.SeverityHigh, 80
	}
	f := detectors.NewFinding(p.d.info, p.r, sev, score)
	f.Once = &detectors.Once{Key: p.ev.Key(p.id, "recon:once:"+win.ID()), TTL: p.d.once}
	names := make([]string, len(calls))
	for i, c := range calls {
		names[i] = c.action + " at " + c.at.Format(time.RFC3339)
	}
	f.Evidence["get_caller_identity_at"] = gciAt.Format(time.RFC3339)
	f.Evidence["listing_calls"] = strings.Join(names, ", ")
	f.Evidence["window_start"] = win.Start.Format(time.RFC3339)
	f.Evidence["window_end"] = win.End().Format(time.RFC3339)
	var sb strings.Builder
	fmt.Fprintf(&sb, "access key %s (%s) from %s called sts:GetCallerIdentity at %s and %s",
		p.r.UserIdentity.AccessKeyID, detectors.Actor(p.r), orUnknown(p.r.SourceIPAddress), gciAt.Format(time.RFC3339), strings.Join(names, ", "))
	if n > len(calls) {
		fmt.Fprintf(&sb, " (and %d more)", n-len(calls))
	}
	fmt.Fprintf(&sb, ", within %v: checking whose key it is, then what it can reach", p.d.opts.Window)
	if escalated {
		f.Evidence["new_location_at"] = mark.At.Format(time.RFC3339)
		fmt.Fprintf(&sb, "; HIGH because the key was used from a location new for its identity at %s, within %v before",
			mark.At.Format(time.RFC3339), p.d.opts.EscalationWindow)
	}
	f.Explanation = sb.String()
	return f, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown source"
	}
	return s
}
