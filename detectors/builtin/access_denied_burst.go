package builtin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// AccessDeniedBurstID is the stable id of the access-denied-burst detector.
const AccessDeniedBurstID = "access-denied-burst"

// AccessDeniedBurstOptions are the keys under detectors.access-denied-burst.
type AccessDeniedBurstOptions struct {
	// Window is the width of the event-time windows denials are counted
	// in. Two grids of windows, the second offset by half a window, are
	// counted at once, so a burst no longer than half a window is always
	// whole in one of them. Default 10m.
	Window time.Duration `yaml:"window"`
	// MinActions is how many distinct denied actions ("service:Action") one
	// principal must collect in a window. Distinct actions, not calls: an
	// application retrying the one call it may not make is not probing.
	// Default 10.
	MinActions int `yaml:"min_actions"`
	// MinServices is how many services those actions must span, at either
	// scale. Default 3.
	MinServices int `yaml:"min_services"`
	// SlowWindow is the width of the second, slower scale, for a caller
	// that paces its attempts to stay under MinActions per Window; counted
	// on two offset grids too. Default 1h.
	SlowWindow time.Duration `yaml:"slow_window"`
	// SlowMinActions is how many distinct denied actions one principal
	// must collect in a SlowWindow. Default 20.
	SlowMinActions int `yaml:"slow_min_actions"`
	// SensitiveServices are the services whose denials make a burst HIGH
	// (identity, credentials, keys, secrets, the organisation). Setting
	// the key replaces the default list.
	SensitiveServices []string `yaml:"sensitive_services"`
	// MinSensitive is how many of the window's denied actions must be on
	// sensitive services for HIGH. Default 3.
	MinSensitive int `yaml:"min_sensitive"`
	// BaselineDays is how many earlier UTC days of a principal's denials
	// are remembered (which services were denied on which days). Default 14.
	BaselineDays int `yaml:"baseline_days"`
	// ChronicDays is on how many of those earlier days a principal must have
	// been denied to count as chronically denied (a misconfigured
	// application): its bursts are raised only when they reach a service
	// it was not denied on before. Default 3.
	ChronicDays int `yaml:"chronic_days"`
	// IncludeConsole counts console sessions too. Off by default: a person
	// with narrow permissions browsing the console is denied on every page.
	IncludeConsole bool `yaml:"include_console"`
	// AllowedLateness is how late CloudTrail may deliver a record of a
	// window; windows outlive their end by this much.
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
}

// DefaultAccessDeniedBurstOptions returns the defaults.
func DefaultAccessDeniedBurstOptions() AccessDeniedBurstOptions {
	return AccessDeniedBurstOptions{
		Window:            10 * time.Minute,
		MinActions:        10,
		MinServices:       3,
		SlowWindow:        time.Hour,
		SlowMinActions:    20,
		SensitiveServices: []string{"iam", "sts", "kms", "secretsmanager", "organizations", "sso", "identitystore"},
		MinSensitive:      3,
		BaselineDays:      14,
		ChronicDays:       3,
		AllowedLateness:   detectors.AllowedLateness,
	}
}

func (o AccessDeniedBurstOptions) validate() error {
	var errs []error
	bad := func(key, reason string, args ...any) {
		errs = append(errs, &detectors.OptionError{Key: key, Reason: fmt.Sprintf(reason, args...)})
	}
	if o.Window < 2*time.Minute {
		bad("window", "%v is shorter than 2m", o.Window)
	}
	if o.MinActions < 2 {
		bad("min_actions", "%d is below 2", o.MinActions)
	}
	if o.MinServices < 1 || o.MinServices > o.MinActions {
		bad("min_services", "%d is not between 1 and min_actions (%d)", o.MinServices, o.MinActions)
	}
	if o.SlowWindow <= o.Window {
		bad("slow_window", "%v is not longer than window (%v)", o.SlowWindow, o.Window)
	}
	if o.SlowMinActions < o.MinActions {
		bad("slow_min_actions", "%d is below min_actions (%d)", o.SlowMinActions, o.MinActions)
	}
	if o.MinSensitive < 1 {
		bad("min_sensitive", "%d is below 1", o.MinSensitive)
	}
	if o.BaselineDays < 1 || o.BaselineDays > 90 {
		bad("baseline_days", "%d is not between 1 and 90", o.BaselineDays)
	}
	if o.ChronicDays < 1 || o.ChronicDays > o.BaselineDays {
		bad("chronic_days", "%d is not between 1 and baseline_days (%d)", o.ChronicDays, o.BaselineDays)
	}
	if o.AllowedLateness < 0 {
		bad("allowed_lateness", "%v is negative", o.AllowedLateness)
	}
	for i, s := range o.SensitiveServices {
		if s == "" || strings.ContainsAny(s, ".: ") {
			bad(fmt.Sprintf("sensitive_services[%d]", i), "%q is not a service prefix such as iam", s)
		}
	}
	return errors.Join(errs...)
}

// AccessDeniedBurst raises when one principal — a user, a role across all
// its sessions and keys, or the person behind an Identity Center or
// source-identity session — is denied many distinct actions across
// several services within minutes (or, paced, within an hour): a stolen
// credential finding out what it
// may do by trying. Failures are the signal here, which is what sets it
// apart from access-key-enumeration (reads, allowed or not, by one key).
//
// MEDIUM; HIGH when MinSensitive of the denied actions are on IAM, STS,
// KMS, Secrets Manager, Organizations or Identity Center. A principal
// denied on ChronicDays of the last BaselineDays (a misconfigured
// application) is raised only when a burst reaches a service it was never
// denied on in those days.
//
// Windows and the per-day history only grow, so a burst's final state does
// not depend on delivery order; a burst that becomes HIGH after it was
// raised MEDIUM raises again at HIGH (one incident per principal, severity
// and UTC day).
type AccessDeniedBurst struct {
	info      detectors.Info
	opts      AccessDeniedBurstOptions
	sensitive map[string]bool
	ttl       time.Duration
	history   time.Duration
}

// NewAccessDeniedBurst builds the detector from cfg, rejecting bad options
// with *OptionError values, joined.
func NewAccessDeniedBurst(cfg detectors.Config) (detectors.Detector, error) {
	opts := DefaultAccessDeniedBurstOptions()
	if err := cfg.Decode(&opts); err != nil {
		return nil, err
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	d := &AccessDeniedBurst{
		info: detectors.Info{
			ID:    AccessDeniedBurstID,
			Title: "Burst of denied calls across services",
			Description: fmt.Sprintf("One principal (across its keys and sessions) was denied at least %d distinct "+
				"actions within %v, or %d within %v, across at least %d services: MEDIUM, HIGH when %d are on "+
				"identity, credential, key, secret or organisation services; a principal denied every day is "+
				"raised only when a burst reaches a service new to its denials.",
				opts.MinActions, opts.Window, opts.SlowMinActions, opts.SlowWindow, opts.MinServices, opts.MinSensitive),
			Severity:   detectors.SeverityMedium,
			Techniques: []string{"T1087.004", "T1580", "T1069.003"},
		},
		opts:      opts,
		sensitive: map[string]bool{},
		ttl:       opts.SlowWindow + opts.AllowedLateness,
		history:   time.Duration(opts.BaselineDays+1) * 24 * time.Hour,
	}
	for _, s := range opts.SensitiveServices {
		d.sensitive[s] = true
	}
	return d, nil
}

// Info implements Detector.
func (d *AccessDeniedBurst) Info() detectors.Info { return d.info }

// deniedWho is whose denials are counted together: the person behind an
// Identity Center or source-identity session, else the stable principal.
func deniedWho(r *cloudtrail.Record) string {
	u := &r.UserIdentity
	p := r.StablePrincipal()
	if u.SourceIdentity != "" {
		return p + "|source-identity:" + u.SourceIdentity
	}
	if u.Type == "AssumedRole" && strings.HasPrefix(u.SessionIssuer.UserName, ssoRolePrefix) {
		return p + "|" + detectors.RoleSessionName(r)
	}
	return p
}

// Observe implements Detector.
func (d *AccessDeniedBurst) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	if !r.Denied() || r.ServiceCaller() || (r.EventType != "" && r.EventType != "AwsApiCall") {
		return nil
	}
	if !d.opts.IncludeConsole && consoleSession(r) {
		return nil
	}
	who := deniedWho(r)
	if who == "" {
		return nil
	}
	svc := serviceOf(r.EventSource)
	action := svc + ":" + r.EventName
	id := principalIdentities.get(who)
	db := deniedBursts.New(ev)
	*db = deniedBurst{d: d, ev: ev, r: r, who: who, svc: svc}
	for g := range db.grids {
		width, minActions := d.opts.Window, d.opts.MinActions
		if g >= 2 {
			width, minActions = d.opts.SlowWindow, d.opts.SlowMinActions
		}
		off := time.Duration(g%2) * width / 2
		w := windowOf(r.EventTime.Add(-off), width)
		w.Start = w.Start.Add(off)
		name := "denied:" + strconv.Itoa(g) + ":" + w.ID()
		db.grids[g] = deniedGrid{
			win:        w,
			minActions: minActions,
			actions:    b.WindowAddRead(ev.Key(id, name+":actions"), action, r.EventTime, w.Span(), enumSample, d.ttl),
			services:   b.WindowAddRead(ev.Key(id, name+":services"), svc, r.EventTime, w.Span(), 64, d.ttl),
		}
		if d.sensitive[svc] {
			db.grids[g].sensitive = b.WindowAddRead(ev.Key(id, name+":sensitive"), action, r.EventTime, w.Span(), 0, d.ttl)
		} else {
			db.grids[g].sensitive = b.WindowRead(ev.Key(id, name+":sensitive"), w.Span(), 0)
		}
	}
	dayStart := state.BucketStart(r.EventTime, 24*time.Hour)
	past := state.Span{From: dayStart.Add(-time.Duration(d.opts.BaselineDays) * 24 * time.Hour), To: dayStart.Add(-time.Nanosecond)}
	db.past = b.WindowAddRead(ev.Key(id, "denied:service-days"), svc+"@"+dayStart.Format("20060102"), r.EventTime, past, 1024, d.history)
	return detectors.EvaluationFunc(db.findings)
}

// deniedGrid is one of the windows a denial falls in: two offset grids at
// each of two scales.
type deniedGrid struct {
	win                          window
	minActions                   int
	actions, services, sensitive *state.Future[state.Window]
}

// deniedBurst is one denied call being evaluated.
type deniedBurst struct {
	d     *AccessDeniedBurst
	ev    *detectors.Event
	r     *cloudtrail.Record
	who   string
	svc   string
	grids [4]deniedGrid
	past  *state.Future[state.Window]
}

// burst is what one window shows.
type burst struct {
	win                          window
	actions, services, sensitive state.Window
	newServices                  []string
	sev                          detectors.Severity
}
