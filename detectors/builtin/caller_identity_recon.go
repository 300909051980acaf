package builtin

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// CallerIdentityReconID is the stable id of the caller-identity-recon
// detector.
const CallerIdentityReconID = "caller-identity-recon"

// reconSample is how many discovery calls a finding names.
const reconSample = 5

// reconSensitiveSample is how many sensitive discovery calls of a window a
// probe reads to judge whether one is new for the principal.
const reconSensitiveSample = 50

// reconHabitLimit bounds the learned sensitive services read at once: one
// member per service and hour over the habit period.
const reconHabitLimit = 2000

// reconHabitGap is how long before a call what the principal did must lie
// to count as its habit, so a session never teaches itself: learned
// members are hour-stamped at the hour's start, and one counts when that
// start lies at least this far before the call (an hour or more earlier).
const reconHabitGap = 2 * time.Hour

// CallerIdentityReconOptions are the keys under
// detectors.caller-identity-recon.
type CallerIdentityReconOptions struct {
	// Window is how far apart in event time an identity probe and a
	// discovery call of the same principal may be, in either order.
	Window time.Duration `yaml:"window"`
	// HabitPeriod is how long a principal's identity probes, networks and
	// sensitive services stay learned: a probe with a probe of the
	// principal in this period before it is habitual.
	HabitPeriod time.Duration `yaml:"habit_period"`
	// EscalationWindow is removed, and setting it is an error that says
	// so: it timed an escalation on access-key-new-location's mark, which
	// is written after its batch and so depended on arrival order. The
	// pair's new place is now the principal's own learned networks over
	// habit_period, judged the same whichever call is scored first: tune
	// habit_period instead.
	EscalationWindow removedOption `yaml:"escalation_window"`
	// IncludeConsole counts console sessions too (the console probes and
	// lists on every visit).
	IncludeConsole bool `yaml:"include_console"`
	// AllowedLateness is how late CloudTrail may deliver one call of a
	// pair after the other.
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
}

// removedOption is an option that no longer exists: it decodes any value
// so that validation can say what replaced it, rather than "unknown key".
type removedOption struct{ set bool }

// UnmarshalText implements encoding.TextUnmarshaler.
func (o *removedOption) UnmarshalText([]byte) error {
	o.set = true
	return nil
}

// String renders the option in the reference: it has no default.
func (removedOption) String() string { return "removed" }

// DefaultCallerIdentityReconOptions returns the defaults.
func DefaultCallerIdentityReconOptions() CallerIdentityReconOptions {
	return CallerIdentityReconOptions{Window: 15 * time.Minute, HabitPeriod: 10 * 24 * time.Hour,
		AllowedLateness: detectors.AllowedLateness}
}

func (o CallerIdentityReconOptions) validate() error {
	var errs []error
	if o.Window < time.Second {
		errs = append(errs, &detectors.OptionError{Key: "window", Reason: fmt.Sprintf("%v is shorter than 1s", o.Window)})
	}
	if o.HabitPeriod < 2*reconHabitGap {
		errs = append(errs, &detectors.OptionError{Key: "habit_period", Reason: fmt.Sprintf("%v is shorter than %v", o.HabitPeriod, 2*reconHabitGap)})
	}
	if o.EscalationWindow.set {
		errs = append(errs, &detectors.OptionError{Key: "escalation_window", Reason: "removed: a pair's new network is " +
			"judged against the principal's networks learned over habit_period, in any arrival order (the " +
			"new-location mark it timed was not); delete the key and tune habit_period instead"})
	}
	if o.AllowedLateness < 0 {
		errs = append(errs, &detectors.OptionError{Key: "allowed_lateness", Reason: fmt.Sprintf("%v is negative", o.AllowedLateness)})
	}
	return errors.Join(errs...)
}

// CallerIdentityRecon raises a finding when a principal probes its own
// identity (sts:GetCallerIdentity, sts:GetAccessKeyInfo, iam:GetUser on
// itself) and, within Window of event time before or after, discovers what
// it can reach (List*, Describe*, Get* calls): the first moves of someone
// who just found a key (TruffleHog, Pacu, a leaked .env) and checks whose
// it is and what it may do. The principal is the stable one (an IAM user
// across its keys, a role across its sessions), so spreading the calls
// over keys or sessions does not split the pair.
//
// Developers run `aws sts get-caller-identity` then `aws s3 ls` every day,
// so a pair alone is not enough: it raises only when something about it is
// new for the principal, as new-terms rules judge. The principal learns,
// over HabitPeriod, the hours it probed in, the networks it called from and
// the sensitive services it read; what it did at least an hour before a
// call is its habit. A pair raises when the probe is the principal's first
// in HabitPeriod, when a network new for a principal whose networks are
// known made both a probe and a discovery call of it (a pair split over a
// new and a known network is not new-network: each call knows only its
// own network's newness, so it could not be judged alike in both arrival
// orders), when the discovery reads a sensitive service (IAM, secrets,
// KMS, organizations, SSO, SSM parameters) the principal never read in
// HabitPeriod. MEDIUM; HIGH when the probe and sensitive discovery come
// from one network new for the principal. Every member of the pairing sets
// names its call's network, so whichever call of the pair is scored second
// judges it the same: the severity does not depend on arrival order, nor
// on batches (no other detector's mark, written after its batch, is read).
//
// Pairs are found as before the habit was learned: per principal and
// aligned Window-wide window, probe and discovery call times; whichever
// call of a pair arrives second finds the first by reading
// [t−Window, t+Window], cut to each window it meets. The windows are kept
// in two sets per kind, one per grid of alternating windows (see
// reconGrid), rather than one set per principal: a set trims members older
// than its newest add less the TTL, so with one set a call half an hour
// later could erase the half of a pair whose partner was still in flight
// (issue 13); a grid's next window starts 2·Window later and its TTL is
// 2·Window+lateness, so it spares them. An incident is the principal and the window
// holding the probe; Once on it keeps one finding per incident. The habit
// is judged from hour-stamped members at least an hour before the call, so
// it does not depend on arrival order either.
type CallerIdentityRecon struct {
	info     detectors.Info
	opts     CallerIdentityReconOptions
	settings *detectors.Settings
	ttl      time.Duration // of the pairing sets: see reconGridTTL
	grid     reconGrid     // the pairing sets' key names
	once     time.Duration // of an incident: its window, a Window either side, lateness
	habitTTL time.Duration // of the learned sets
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
			Title: "Identity probe followed by discovery, new for the principal",
			Description: fmt.Sprintf("One principal (across its keys and sessions) probed its identity "+
				"(sts:GetCallerIdentity, sts:GetAccessKeyInfo, iam:GetUser on itself) and, within %v before or after, "+
				"listed, described or read resources, and something about it is new for the principal over the last %s: "+
				"its first probe, a new network that made both calls, a sensitive service it never read (IAM, secrets, KMS, organizations, SSO, "+
				"SSM parameters). HIGH when the probe and sensitive discovery come from one network new for the principal.",
				opts.Window, detectors.Days(opts.HabitPeriod)),
			Severity:   detectors.SeverityMedium,
			Techniques: []string{"T1087.004", "T1619", "T1526"},
		},
		opts:     opts,
		settings: cfg.OrgSettings(),
		ttl:      reconGridTTL(opts),
		grid:     newReconGrid(opts.Window),
		once:     3*opts.Window + opts.AllowedLateness,
		habitTTL: opts.HabitPeriod + opts.AllowedLateness + time.Hour,
	}, nil
}

// Info implements Detector.
func (d *CallerIdentityRecon) Info() detectors.Info { return d.info }

// Observe implements Detector.
func (d *CallerIdentityRecon) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	kind := classifyRecon(r)
	if kind == reconNone || r.ServiceCaller() || unauthenticatedCall(r.ErrorCode) ||
		(!d.opts.IncludeConsole && consoleSession(r)) {
		return nil
	}
	id := reconPrincipal(ev)
	if id == "" {
		return nil
	}
	t, w := r.EventTime, d.opts.Window
	// One allocation holds the pairing, its habit and its reads: a call
	// meets at most reconMaxWindows windows. The slab hands it out zeroed,
	// so only the fields set are written (a composite literal wrote all of
	// its some 400 bytes again).
	p := pairings.New(ev)
	p.d, p.ev, p.r, p.kind, p.id = d, ev, r, kind, id
	d.learn(ev, b, id, kind, &p.habit)
	if ak := r.UserIdentity.AccessKeyID; strings.HasPrefix(ak, "AKIA") {
		p.keySeen = detectors.ReadMark(b, detectors.KeyFirstSeenMark(ev, ak))
	}
	own := windowOf(t, w)
	around := windowsAround(state.Span{From: t.Add(-w), To: t.Add(w)}, w)
	// Every member names the network of its call, so either call of a
	// pair can tell whether the other came from the same place.
	if kind == reconProbe {
		b.WindowAdd(ev.Key(id, d.grid.probe[d.grid.of(own)]), reconMember(ev, "", "", r.EventName, t, p.habit.network), t, own.Span(), d.ttl)
		p.found, p.sensitive = p.foundBuf[:0], p.sensitiveBuf[:0]
		for i := range around.n {
			g := d.grid.of(around.wins[i])
			p.found = append(p.found, detectors.WindowRead(b, ev.Key(id, d.grid.disc[g]), around.spans[i], reconSample))
			p.sensitive = append(p.sensitive, detectors.WindowRead(b, ev.Key(id, d.grid.sdisc[g]), around.spans[i], reconSensitiveSample))
		}
		return p
	}
	set := &d.grid.disc
	if kind == reconSensitive {
		set = &d.grid.sdisc
	}
	b.WindowAdd(ev.Key(id, set[d.grid.of(own)]), reconMember(ev, serviceOf(r.EventSource), ":", r.EventName, t, p.habit.network), t, own.Span(), d.ttl)
	// One read per incident window the probe may lie in: the windows that
	// meet [t−w, t+w], each cut to that span. Several probes, not one, so
	// a probe from this call's network is seen among others.
	p.probes = p.probesBuf[:0]
	for i := range around.n {
		win, span := around.wins[i], around.spans[i]
		g := probeRead{win: win, until: span.To}
		if span.From.Equal(win.Start) {
			// A span that starts with its window (the call's own window,
			// and the next one) is read as the whole window and cut in
			// Findings (see probeRead): the read is then the same for
			// every call of the principal in the window, and the batch
			// queues it once (detectors.WindowRead).
			span = win.Span()
		}
		g.read = detectors.WindowRead(b, ev.Key(id, d.grid.probe[d.grid.of(win)]), span, reconSample)
		p.probes = append(p.probes, g)
	}
	return p
}

// reconMaxWindows is how many aligned windows of width w a span of 2w
// (both ends included) can meet.
const reconMaxWindows = 3

// reconWindows are the aligned windows a call's reads meet, each with the
// span read in it, earliest first.
type reconWindows struct {
	n     int
	wins  [reconMaxWindows]window
	spans [reconMaxWindows]state.Span
}

// windowsAround returns the aligned windows of width w that meet span,
// each with span cut to it. A span of 2w meets reconMaxWindows at most;
// a longer one is cut at that many. It works in Unix nanoseconds, as
// state.BucketStart aligns, and makes a time only for a bound that is not
// one of span's: the time arithmetic was a tenth of observing a call.
func windowsAround(span state.Span, w time.Duration) reconWindows {
	var out reconWindows
	from, to, width := span.From.UnixNano(), span.To.UnixNano(), int64(w)
	for start := alignedStart(from, width); start <= to && out.n < reconMaxWindows; start += width {
		win := window{Start: time.Unix(0, start).UTC(), Width: w}
		cut := span
		if start > from {
			cut.From = win.Start
		}
		if last := start + width - 1; last < to {
			cut.To = time.Unix(0, last).UTC()
		}
		out.wins[out.n], out.spans[out.n] = win, cut
		out.n++
	}
	return out
}

// alignedStart is the start of the aligned window of width holding ns, in
// Unix nanoseconds: state.BucketStart's, without the time.
func alignedStart(ns, width int64) int64 { return floorDiv(ns, width) * width }

// reconMember is a member of a pairing set, built in one string carved
// from the batch's arena (detectors.Event.String): the
// action (service, sep and the event name), "@", the event
// time (UTC, RFC 3339 with nanoseconds: parseStamp reads it back) and, when the call's network places someone, a space
// and the network (see networkSuffix).
func reconMember(ev *detectors.Event, service, sep, name string, t time.Time, network string) string {
	var buf [192]byte
	m := append(append(append(append(buf[:0], service...), sep...), name...), '@')
	m = appendStamp(m, t)
	if network != "" {
		m = append(append(m, ' '), network...)
	}
	return ev.String(m)
}

// reconDays remembers the rendering of the days of recent calls' times.
var reconDays = formatCache{layout: "2006-01-02T"}

// appendStamp appends t.UTC().AppendFormat(m, time.RFC3339Nano) to m.
// CloudTrail's times are whole seconds of years with four digits: those
// are the day, remembered (reconDays), and the clock from the second of
// the day, where formatting the whole time cost a tenth of building a
// member. TestAppendStampIsFormat holds the two equal.
func appendStamp(m []byte, t time.Time) []byte {
	sec := t.Unix()
	if t.Nanosecond() != 0 || sec < 0 || sec >= maxStampSecond {
		return t.UTC().AppendFormat(m, time.RFC3339Nano)
	}
	clock := sec % 86400
	m = append(m, reconDays.format(time.Unix(sec-clock, 0).UTC())...)
	h, mi, s := clock/3600, clock/60%60, clock%60
	return append(m, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10), 'Z')
}

// maxStampSecond is the first Unix second of the year 10000, whose times
// RFC 3339 cannot write in four digits.
const maxStampSecond = 253402300800

// networkSuffix is the part of a member naming the call's network (see
// reconNetwork), "" when it places nobody.
func networkSuffix(network string) string {
	if network == "" {
		return ""
	}
	return " " + network
}

// parseStamp reads back the event time of a member (see reconMember).
func parseStamp(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// pairing is one probe or discovery call being evaluated.
type pairing struct {
	d         *CallerIdentityRecon
	ev        *detectors.Event
	r         *cloudtrail.Record
	kind      reconKind
	habit     habit
	keySeen   detectors.MarkResult          // a long-term key's first sighting by access-key-new-location; nil otherwise
	id        string                        // the principal's state identity
	found     []*state.Future[state.Window] // for a probe: discovery per window, earliest first
	sensitive []*state.Future[state.Window] // for a probe: sensitive discovery per window
	probes    []probeRead                   // for a discovery call

	// The reads' backing arrays, so the pairing is one allocation.
	foundBuf, sensitiveBuf [reconMaxWindows]*state.Future[state.Window]
	probesBuf              [reconMaxWindows]probeRead
}

// Findings implements detectors.Evaluation.
func (p *pairing) Findings() ([]detectors.Finding, error) {
	if p.kind == reconProbe {
		return p.afterProbe()
	}
	return p.afterDiscovery()
}

// probeRead is a discovery call's read of one window's probes: those
// whose time lies in the window and not after until. A read over the
// start of the window up to until is made over the whole window instead
// and cut here: the set lists its members earliest first, so the first
// reconSample of the whole window, less those after until, are the first
// of the cut span, and the cut span holds a probe exactly when the
// window's first probe is not after until. afterDiscovery asks no more of
// a read (its Count only whether it is 0), so the answer is the cut
// read's on any store.
type probeRead struct {
	win   window
	until time.Time
	read  *state.Future[state.Window]
}

// probes returns the members of g's read whose time is not after until,
// parsed, in their order, appended to buf.
func (g probeRead) probes(buf []reconCall) ([]reconCall, error) {
	w, err := g.read.Get()
	if err != nil || w.Count == 0 {
		return buf, err
	}
	for _, m := range w.Members {
		c, err := parseReconCall(m)
		if err != nil {
			return buf, err
		}
		if c.at.After(g.until) {
			break // the members are earliest first: so are the rest
		}
		buf = append(buf, c)
	}
	return buf, nil
}

// reconCall is one call of a pair: what was called, when, and from which
// network ("" when unknown or placing nobody).
type reconCall struct {
	action string // "s3:ListBuckets"
	at     time.Time
	net    string
}

func parseReconCall(m string) (reconCall, error) {
	call, net, _ := strings.Cut(m, " ")
	action, at, _ := strings.Cut(call, "@")
	t, err := parseStamp(at)
	if err != nil {
		return reconCall{}, fmt.Errorf("caller-identity-recon: member %q: %w", m, err)
	}
	return reconCall{action, t, net}, nil
}

// samePlace reports whether c came from the network of the call being
// evaluated, a network that places someone.
func (p *pairing) samePlace(c reconCall) bool {
	return p.habit.network != "" && c.net == p.habit.network
}

// afterProbe pairs a probe with the discovery calls found around it.
func (p *pairing) afterProbe() ([]detectors.Finding, error) {
	var calls, sensitive []reconCall
	n, shared := 0, false
	for i := range p.found {
		for _, read := range []*state.Future[state.Window]{p.sensitive[i], p.found[i]} {
			w, err := read.Get()
			if err != nil {
				return nil, err
			}
			n += w.Count
			for _, m := range w.Members {
				c, err := parseReconCall(m)
				if err != nil {
					return nil, err
				}
				shared = shared || p.samePlace(c)
				if read == p.sensitive[i] {
					sensitive = append(sensitive, c)
				}
				if len(calls) < reconSample {
					calls = append(calls, c)
				}
			}
		}
	}
	if n == 0 {
		return nil, nil
	}
	probe := reconCall{serviceOf(p.r.EventSource) + ":" + p.r.EventName, p.r.EventTime, p.habit.network}
	here := slices.ContainsFunc(sensitive, p.samePlace)
	f, ok, err := p.judge(probe, calls, sensitive, n, here, shared)
	if err != nil || !ok {
		return nil, err
	}
	return []detectors.Finding{f}, nil
}

// afterDiscovery pairs a discovery call with each window's first probe.
func (p *pairing) afterDiscovery() ([]detectors.Finding, error) {
	// Most discovery calls have no probe around them: they return before
	// setting up what a pair needs.
	found := false
	for _, g := range p.probes {
		w, err := g.read.Get()
		if err != nil {
			return nil, err
		}
		found = found || w.Count > 0
	}
	if !found {
		return nil, nil
	}
	var out []detectors.Finding
	// The call as a pair names it, built once a probe is found: most
	// discovery calls have none.
	var self reconCall
	var sensitive []reconCall
	var buf [reconSample]reconCall
	for _, g := range p.probes {
		probes, err := g.probes(buf[:0])
		if err != nil {
			return nil, err
		}
		if len(probes) == 0 {
			continue
		}
		if self.action == "" {
			self = reconCall{serviceOf(p.r.EventSource) + ":" + p.r.EventName, p.r.EventTime, p.habit.network}
			if p.kind == reconSensitive {
				sensitive = []reconCall{self}
			}
		}
		probe := probes[0]
		probe.action = probeAction(probe.action)
		here := slices.ContainsFunc(probes, p.samePlace)
		f, ok, err := p.judge(probe, []reconCall{self}, sensitive, 1, here && len(sensitive) > 0, here)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// reconHostingKnownHours is in how many distinct hours of the habit period
// a principal must have used a hosting network for it to be known.
const reconHostingKnownHours = 3

// reconSeverities are the severities a pair is raised at, lowest first.
var reconSeverities = []detectors.Severity{detectors.SeverityLow, detectors.SeverityMedium, detectors.SeverityHigh}

// incident is the throttle and the name of the incident of the principal
// and win, raised at sev. Each call judges the pair from what it sees, so
// two calls of one window may judge it at different severities: the
// throttle is one per severity, and raising covers the lower ones, so the
// incident rises to the highest severity any call judged and never falls
// back (see detectors.Once.Covers).
func (p *pairing) incident(win window, sev detectors.Severity) (*detectors.Once, string) {
	name := "recon:once:" + win.ID()
	once := &detectors.Once{Key: p.ev.Key(p.id, name+":"+sev.String()), TTL: p.d.once}
	for _, s := range reconSeverities {
		if s < sev {
			once.Covers = append(once.Covers, p.ev.Key(p.id, name+":"+s.String()))
		}
	}
	return once, p.d.info.ID + "/" + p.id + "/" + name
}

// probeAction names a probe stored by event name alone.
func probeAction(name string) string {
	if name == "GetUser" {
		return "iam:GetUser"
	}
	return "sts:" + name
}

// judge builds the finding of the pair probe + calls (n discovery calls
// in all, sensitive among them; here when a probe and a sensitive call of
// the pair share the evaluated call's network, shared when a probe and any
// discovery call do) on the record being evaluated, and reports whether
// anything about it is new for the principal.
func (p *pairing) judge(probe reconCall, calls, sensitive []reconCall, n int, here, shared bool) (detectors.Finding, bool, error) {
	known, err := p.habit.resolve()
	if err != nil {
		return detectors.Finding{}, false, err
	}
	j := judgement{first: known.probes == 0, fresh: known.active == 0, human: p.ev.HumanSession(),
		sensitive: len(sensitive) > 0, sensitiveHere: here}
	if p.keySeen != nil && j.fresh {
		// The key's other calls (writes, data reads) are not recon's to
		// learn; access-key-new-location saw them.
		seen, err := p.keySeen.Get()
		if err != nil {
			return detectors.Finding{}, false, err
		}
		j.fresh = !seen.Set || !seen.At.Before(probe.at.Add(-time.Hour))
	}
	// A hosting network is known only once the principal worked from it
	// in several hours: a thief's earlier visit (an enumeration burst, an
	// earlier probe) must not teach the principal the thief's VPS, while a
	// jump host used every day is learned within a day or two.
	need := 1
	if p.habit.hosting {
		need = reconHostingKnownHours
	}
	// The network is the pair's only when it made both a probe and a
	// discovery call of it: a call knows its own network's newness, not
	// its partner's, so a pair split over two networks would be new or
	// not depending on which call is scored second.
	j.newNetwork = shared && p.habit.network != "" && known.active > 0 && known.network < need
	// People move between office, home and phone: a person's new network
	// that is not a hosting one is LOW here; the location detectors judge
	// the move.
	j.roams = j.newNetwork && j.human && !p.habit.hosting
	for _, c := range sensitive {
		svc, _, _ := strings.Cut(c.action, ":")
		if !known.services[svc] && !slices.Contains(j.newServices, svc) {
			j.newServices = append(j.newServices, svc)
		}
	}
	if !j.raises() {
		return detectors.Finding{}, false, nil
	}
	return p.finding(probe, calls, n, j), true, nil
}

func (p *pairing) finding(probe reconCall, calls []reconCall, n int, j judgement) detectors.Finding {
	sev, score := detectors.SeverityMedium, 55
	switch {
	case j.high():
		sev, score = detectors.SeverityHigh, 80
	case j.low():
		sev, score = detectors.SeverityLow, 30
	}
	win := windowOf(probe.at, p.d.opts.Window)
	f := detectors.NewFinding(p.d.info, p.r, sev, score)
	f.Once, f.Incident = p.incident(win, sev)
	names := make([]string, len(calls))
	for i, c := range calls {
		names[i] = c.action + " at " + c.at.Format(time.RFC3339)
	}
	reasons := j.reasons(p.d.opts, p.habit.network)
	f.Evidence["probe"] = probe.action
	f.Evidence["probe_at"] = probe.at.Format(time.RFC3339)
	f.Evidence["discovery_calls"] = strings.Join(names, ", ")
	f.Evidence["window_start"] = win.Start.Format(time.RFC3339)
	f.Evidence["window_end"] = win.End().Format(time.RFC3339)
	f.Evidence["new"] = strings.Join(reasons, "; ")
	if p.habit.network != "" {
		f.Evidence["network"] = p.habit.network
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s", detectors.Actor(p.r))
	if ak := p.r.UserIdentity.AccessKeyID; ak != "" {
		fmt.Fprintf(&sb, " (access key %s)", ak)
	}
	fmt.Fprintf(&sb, " from %s called %s at %s and %s", orUnknown(p.r.SourceIPAddress), probe.action,
		probe.at.Format(time.RFC3339), strings.Join(names, ", "))
	if n > len(calls) {
		fmt.Fprintf(&sb, " (and %d more)", n-len(calls))
	}
	fmt.Fprintf(&sb, ", within %v: checking whose credentials these are, then what they reach; new for the principal: %s",
		p.d.opts.Window, strings.Join(reasons, "; "))
	if j.high() {
		sb.WriteString("; HIGH because sensitive discovery came from a new place")
	}
	f.Explanation = sb.String()
	return f
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown source"
	}
	return s
}
