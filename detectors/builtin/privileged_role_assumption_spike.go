package builtin

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// PrivilegedRoleAssumptionSpikeID is the stable id of the
// privileged-role-assumption-spike detector.
const PrivilegedRoleAssumptionSpikeID = "privileged-role-assumption-spike"

// PrivilegedRoleAssumptionSpikeOptions are the detector's keys under
// detectors.privileged-role-assumption-spike.
type PrivilegedRoleAssumptionSpikeOptions struct {
	// Window is the width of the count buckets, aligned to the epoch
	// (clock hours by default).
	Window time.Duration `yaml:"window"`
	// History is how far back a principal's own baseline reaches.
	History time.Duration `yaml:"history"`
	// MinHistory is how long (event time since its first assumption of any
	// role) a principal must be known before anything raises.
	MinHistory time.Duration `yaml:"min_history"`
	// MinCount is the number of privileged assumptions in one bucket that
	// makes a spike.
	MinCount int `yaml:"min_count"`
	// LowPrivilegeMax is the most privileged assumptions a principal may
	// have made in History and still count as low-privileged.
	LowPrivilegeMax int `yaml:"low_privilege_max"`
	// Sigma is how many standard deviations above its mean a bucket must
	// be to spike for a principal that is not low-privileged.
	Sigma float64 `yaml:"sigma"`
}

// DefaultPrivilegedRoleAssumptionSpikeOptions returns the defaults.
func DefaultPrivilegedRoleAssumptionSpikeOptions() PrivilegedRoleAssumptionSpikeOptions {
	return PrivilegedRoleAssumptionSpikeOptions{
		Window:          time.Hour,
		History:         14 * 24 * time.Hour,
		MinHistory:      7 * 24 * time.Hour,
		MinCount:        3,
		LowPrivilegeMax: 1,
		Sigma:           3,
	}
}

func (o PrivilegedRoleAssumptionSpikeOptions) validate() error {
	var errs []error
	if o.Window <= 0 {
		errs = append(errs, &detectors.OptionError{Key: "window", Reason: "must be positive"})
	} else if o.History < 2*o.Window || o.History%o.Window != 0 {
		errs = append(errs, &detectors.OptionError{Key: "history", Reason: fmt.Sprintf("must be a multiple of window=%v, at least two of them", o.Window)})
	} else if o.History/o.Window > 24*90 {
		errs = append(errs, &detectors.OptionError{Key: "history", Reason: "must hold at most 2160 windows"})
	}
	if o.MinHistory < 0 || o.MinHistory > o.History {
		errs = append(errs, &detectors.OptionError{Key: "min_history", Reason: fmt.Sprintf("must lie in [0, history=%v]", o.History)})
	}
	if o.MinCount < 1 {
		errs = append(errs, &detectors.OptionError{Key: "min_count", Reason: "must be at least 1"})
	}
	if o.LowPrivilegeMax < 0 {
		errs = append(errs, &detectors.OptionError{Key: "low_privilege_max", Reason: "must not be negative"})
	}
	if o.Sigma < 0 || math.IsNaN(o.Sigma) || math.IsInf(o.Sigma, 0) {
		errs = append(errs, &detectors.OptionError{Key: "sigma", Reason: "must be a non-negative number"})
	}
	return errors.Join(errs...)
}

// PrivilegedRoleAssumptionSpike raises when a principal assumes privileged
// roles far more than its own history says it does.
//
// A role is privileged when it matches privileged_roles or carries a
// PrivilegedRoleMark at or before the assumption; the detector sets that
// mark itself when it sees AdministratorAccess attached to a role. Each
// successful AssumeRole, AssumeRoleWithSAML or AssumeRoleWithWebIdentity of
// a privileged role is counted, per caller's stable principal, in time
// buckets of Window (one distinct member per event, so retries count once).
//
// The baseline is the History/Window buckets before the current one (the
// current bucket is never in it), zero-filled: an hour without privileged
// assumptions counts as 0. With n those buckets, mean = Σ/n and σ the
// population standard deviation. In order:
//   - HIGH: the current bucket holds ≥ MinCount and the baseline sums to
//     ≤ LowPrivilegeMax (a low-privileged principal suddenly privileged);
//   - MEDIUM: the current bucket holds ≥ MinCount, more than mean + Sigma·σ
//     and more than the baseline's peak (a principal that has had hours like
//     this before is not spiking, however small its mean);
//   - MEDIUM: the baseline and the bucket after the current one are empty
//     (the first privileged assumption in History; the next bucket is
//     checked so a late record of an earlier hour does not raise twice).
//
// Nothing raises until the principal's first assumption of any role lies
// MinHistory before the event. AWS service callers are skipped.
type PrivilegedRoleAssumptionSpike struct {
	info     detectors.Info
	opts     PrivilegedRoleAssumptionSpikeOptions
	settings *detectors.Settings
	buckets  int // baseline buckets: History/Window
}

// NewPrivilegedRoleAssumptionSpike builds the detector from cfg.
func NewPrivilegedRoleAssumptionSpike(cfg detectors.Config) (detectors.Detector, error) {
	opts := DefaultPrivilegedRoleAssumptionSpikeOptions()
	if err := cfg.Decode(&opts); err != nil {
		return nil, err
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	settings := cfg.OrgSettings()
	return &PrivilegedRoleAssumptionSpike{opts: opts, settings: settings, buckets: int(opts.History / opts.Window),
		info: detectors.Info{
			ID:    PrivilegedRoleAssumptionSpikeID,
			Title: "Unusual burst of privileged role assumptions",
			Description: "A principal assumed privileged roles (privileged_roles, or roles seen given " +
				"AdministratorAccess) far more often than its own " + detectors.Days(opts.History) + " history: HIGH when it " +
				"was low-privileged, MEDIUM for a statistical spike or its first privileged assumption.",
			Severity:   detectors.SeverityHigh,
			Techniques: []string{"T1078.004"},
		}}, nil
}

// Info implements Detector.
func (d *PrivilegedRoleAssumptionSpike) Info() detectors.Info { return d.info }

var assumeCalls = map[string]bool{"AssumeRole": true, "AssumeRoleWithSAML": true, "AssumeRoleWithWebIdentity": true}

// Interests implements detectors.Selective: AttachRolePolicy, which marks
// an admin role (queuing a mark, returning nil), and assumeCalls.
func (d *PrivilegedRoleAssumptionSpike) Interests() []detectors.Call {
	return append(callsOf("sts.amazonaws.com", assumeCalls), detectors.Call{Source: "iam.amazonaws.com", Name: "AttachRolePolicy"})
}

// Observe implements Detector.
func (d *PrivilegedRoleAssumptionSpike) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	switch {
	case r.EventSource == "iam.amazonaws.com" && r.EventName == "AttachRolePolicy":
		d.markAdminRole(ev, b)
		return nil
	case r.EventSource != "sts.amazonaws.com" || !assumeCalls[r.EventName] || r.Failed() || r.ServiceCaller():
		return nil
	}
	principal := r.StablePrincipal()
	if principal == "" {
		return nil
	}
	roleARN, err := roleARNParam(ev)
	if err != nil || roleARN == "" {
		return nil
	}
	a := assumptions.New(ev)
	*a = assumption{d: d, r: r, tenant: ev.Tenant, principal: principal, role: roleARN}
	pid := principalIdentities.get(principal)
	w, ttl, n := d.opts.Window, d.opts.History+2*d.opts.Window, d.buckets+2
	member := roleARN + "|" + r.EventID
	next := r.EventTime.Add(w) // read through the bucket after the current one
	a.first = detectors.Mark(b, ev.Key(pid, "assume:first-seen"), r.EventTime, state.KeepEarliest, d.opts.History)
	privKey := ev.Key(pid, "assume:privileged")
	if pattern, ok := d.settings.PrivilegedRole(roleARN); ok {
		a.why = "matches privileged_roles pattern " + pattern
		b.BucketAdd(privKey, member, r.EventTime, w, 0, ttl)
		a.counts = b.BucketRead(privKey, next, w, n)
		return a
	}
	role := assumedRoles.get(roleARN)
	if role.series == "" {
		return nil
	}
	// Whether a marked role is privileged is known only after the batch,
	// too late to choose the series: its assumptions are counted in a
	// series of their own, added to the privileged one when marked.
	roleKey := ev.Key(pid, role.series)
	a.marked = detectors.ReadMark(b, ev.Key(role.markIdentity, role.markName))
	b.BucketAdd(roleKey, member, r.EventTime, w, 0, ttl)
	a.roleCounts = b.BucketRead(roleKey, next, w, n)
	a.counts = b.BucketRead(privKey, next, w, n)
	return a
}

// markAdminRole leaves PrivilegedRoleMark when AdministratorAccess is
// attached to a role.
func (d *PrivilegedRoleAssumptionSpike) markAdminRole(ev *detectors.Event, b *state.Batch) {
	r := ev.Record
	var params struct {
		RoleName  string `json:"roleName"`
		PolicyARN string `json:"policyArn"`
	}
	if r.Failed() || r.Params(&params) != nil || params.RoleName == "" || !IsAdministratorAccess(params.PolicyARN) {
		return
	}
	account := r.RecipientAccountID
	if account == "" {
		account = r.AccountID()
	}
	b.Mark(detectors.PrivilegedRoleMark(ev, account, detectors.RoleNameFromARN("arn:aws:iam::"+account+":role/"+params.RoleName)),
		r.EventTime, state.KeepEarliest, detectors.PrivilegedRoleMarkTTL)
}

// roleAccount returns the account id of a role ARN, or "".
// assumedRole is what the keys of a role's assumptions take from its ARN.
type assumedRole struct {
	series                 string // the role's own series ("assume:role:<account>:<name>"), "" when arn names no IAM role
	markIdentity, markName string // detectors.PrivilegedRoleMark's key, without the tenant
}

// assumedRoles remembers assumedRole by role ARN: a role is assumed record
// after record, and splitting its ARN and joining the two key names
// allocated five times on each.
var assumedRoles = newStringMemo(func(arn string) assumedRole {
	account, name := roleAccount(arn), detectors.RoleNameFromARN(arn)
	if account == "" || name == "" {
		return assumedRole{}
	}
	mark := detectors.PrivilegedRoleMark(&detectors.Event{}, account, name)
	return assumedRole{series: "assume:role:" + account + ":" + name, markIdentity: mark.Identity, markName: mark.Name}
})

func roleAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[2] != "iam" {
		return ""
	}
	return parts[4]
}

// assumption is one successful role assumption being evaluated.
type assumption struct {
	d          *PrivilegedRoleAssumptionSpike
	r          *cloudtrail.Record
	tenant     string
	principal  string
	role       string
	why        string // why the role is privileged
	first      detectors.MarkResult
	counts     *state.Future[[]int] // privileged series: baseline…, current, next
	marked     detectors.MarkResult
	roleCounts *state.Future[[]int]
}

// Findings implements Evaluation.
func (a *assumption) Findings() ([]detectors.Finding, error) {
	counts, err := a.counts.Get()
	if err != nil {
		return nil, err
	}
	if a.marked != nil {
		m, err := a.marked.Get()
		if err != nil {
			return nil, err
		}
		if !m.Set || m.At.After(a.r.EventTime) {
			return nil, nil // not privileged (yet)
		}
		a.why = "was given AdministratorAccess at " + m.At.Format(time.RFC3339)
		role, err := a.roleCounts.Get()
		if err != nil {
			return nil, err
		}
		counts = sumSeries(counts, role)
	}
	first, err := a.first.Get()
	if err != nil {
		return nil, err
	}
	var span time.Duration
	if first.Set && first.At.Before(a.r.EventTime) {
		span = a.r.EventTime.Sub(first.At)
	}
	n := a.d.buckets
	if span < a.d.opts.MinHistory || len(counts) != n+2 {
		return nil, nil
	}
	st := summarize(counts[:n])
	cur, next := counts[n], counts[n+1]
	o := a.d.opts
	switch {
	case cur >= o.MinCount && st.sum <= o.LowPrivilegeMax:
		return a.finding(detectors.SeverityHigh, 80, "low-privileged", cur, st, first.At), nil
	case cur >= o.MinCount && float64(cur) > st.mean+o.Sigma*st.sd && cur > st.peak:
		return a.finding(detectors.SeverityMedium, 60, "spike", cur, st, first.At), nil
	case st.sum == 0 && next == 0 && detectors.HumanSession(a.r):
		// A person who holds an admin permission set and uses it once a
		// month: worth a line in the record, not a page.
		return a.finding(detectors.SeverityLow, 35, "first-privileged", cur, st, first.At), nil
	case st.sum == 0 && next == 0:
		return a.finding(detectors.SeverityMedium, 50, "first-privileged", cur, st, first.At), nil
	}
	return nil, nil
}

func sumSeries(a, b []int) []int {
	out := make([]int, max(len(a), len(b)))
	for i := range out {
		if i < len(a) {
			out[i] += a[i]
		}
		if i < len(b) {
			out[i] += b[i]
		}
	}
	return out
}

// stats summarize the baseline buckets.
type stats struct {
	sum, peak, n int
	mean, sd     float64
}

func summarize(xs []int) stats {
	s := stats{n: len(xs)}
	for _, x := range xs {
		s.sum += x
		s.peak = max(s.peak, x)
	}
	if s.n == 0 {
		return s
	}
	s.mean = float64(s.sum) / float64(s.n)
	var sq float64
	for _, x := range xs {
		sq += (float64(x) - s.mean) * (float64(x) - s.mean)
	}
	s.sd = math.Sqrt(sq / float64(s.n))
	return s
}

var ruleText = map[string]string{
	"low-privileged":   "a principal that was low-privileged made a burst of privileged role assumptions",
	"spike":            "far above its usual rate of privileged role assumptions",
	"first-privileged": "its first privileged role assumption",
}

func (a *assumption) finding(sev detectors.Severity, score int, rule string, cur int, st stats, since time.Time) []detectors.Finding {
	f := detectors.NewFinding(a.d.info, a.r, sev, score)
	start := state.BucketStart(a.r.EventTime, a.d.opts.Window)
	f.Evidence["rule"] = rule
	f.Evidence["principal"] = a.principal
	f.Evidence["role_arn"] = a.role
	f.Evidence["privileged_because"] = a.why
	f.Evidence["bucket_start"] = start.Format(time.RFC3339)
	f.Evidence["count"] = fmt.Sprint(cur)
	f.Evidence["history_total"] = fmt.Sprint(st.sum)
	f.Evidence["history_mean"] = fmt.Sprintf("%.3f", st.mean)
	f.Evidence["history_sd"] = fmt.Sprintf("%.3f", st.sd)
	f.Evidence["history_peak"] = fmt.Sprint(st.peak)
	f.Evidence["history_since"] = since.Format(time.RFC3339)
	f.Explanation = fmt.Sprintf("%s assumed %s (privileged: it %s) via %s from %s: %d privileged assumption(s) in the %v from %s, "+
		"against %d in the previous %s (per %v: mean %.2f, σ %.2f, peak %d over %d buckets; known since %s): %s",
		a.principal, a.role, a.why, a.r.EventName, a.r.SourceIPAddress, cur, a.d.opts.Window, start.Format(time.RFC3339),
		st.sum, detectors.Days(a.d.opts.History), a.d.opts.Window, st.mean, st.sd, st.peak, st.n, since.Format(time.RFC3339), ruleText[rule])
	name := "assume:raised:" + start.Format(time.RFC3339) + ":" + sev.String()
	if rule == "first-privileged" {
		// The first privileged assumption is one incident per principal,
		// whichever record of it is scored first: no hour in the key, so a
		// shuffled stream names the same incident.
		name = "assume:raised:first-privileged"
	}
	f.Once = &detectors.Once{
		Key: state.Key{Tenant: a.tenant, Identity: "principal:" + a.principal, Name: name},
		TTL: 24 * time.Hour,
	}
	return []detectors.Finding{f}
}
