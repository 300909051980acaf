package builtin

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/internal/wildcard"
	"github.com/iamsentry/iamsentry/state"
)

// LoggingTamperingID is the stable id of the logging-tampering detector.
const LoggingTamperingID = "logging-tampering"

// LoggingTamperingOptions are the keys under detectors.logging-tampering.
type LoggingTamperingOptions struct {
	// AdminHistory is how long a principal that configured logging or
	// detection (created, started or changed a trail, detector, recorder,
	// hub or alarm without weakening it) is remembered as one that
	// administers it. Default 90 days.
	AdminHistory time.Duration `yaml:"admin_history"`
	// AdminMinAge is how long before a tampering call the principal's
	// first such configuration must lie for the call to be judged as that
	// of a known administrator (one step lower) rather than an unusual
	// principal. A principal that configures logging in the same hour it
	// tears it down gains nothing. Default 24h.
	AdminMinAge time.Duration `yaml:"admin_min_age"`
	// SecurityAlarms are wildcard patterns ('*', '?'), matched without
	// regard to case, on CloudWatch alarm and metric filter names that
	// watch identities or logging (the CIS benchmark alarms and their
	// usual names). Deleting or silencing an alarm whose name matches none
	// is not raised; a call whose names CloudTrail does not show is.
	// Setting the key replaces the default list.
	SecurityAlarms []string `yaml:"security_alarms"`
}

// DefaultLoggingTamperingOptions returns the defaults.
func DefaultLoggingTamperingOptions() LoggingTamperingOptions {
	return LoggingTamperingOptions{
		AdminHistory: 90 * 24 * time.Hour,
		AdminMinAge:  24 * time.Hour,
		SecurityAlarms: []string{
			"*cloudtrail*", "*trail-change*", "iam*", "*-iam*", "*_iam*", "*.iam*", "* iam*",
			"*root*", "*mfa*", "*signin*", "*sign-in*", "*login*", "*console*", "*unauthori*",
			"*accessdenied*", "*access-denied*", "*access_denied*", "*policy*chang*",
			"*securitygroup*", "*security-group*", "*security_group*", "*nacl*", "*networkacl*",
			"*config*chang*", "*kms*", "*cmk*", "*guardduty*", "*securityhub*", "cis*", "*-cis-*",
			"*_cis_*", "*.cis.*", "*organizations*", "*s3*bucket*policy*", "*tamper*",
		},
	}
}

func (o LoggingTamperingOptions) validate() error {
	var errs []error
	if o.AdminHistory < 24*time.Hour {
		errs = append(errs, &detectors.OptionError{Key: "admin_history", Reason: fmt.Sprintf("%v is shorter than 24h", o.AdminHistory)})
	}
	if o.AdminMinAge < 0 || o.AdminMinAge >= o.AdminHistory {
		errs = append(errs, &detectors.OptionError{Key: "admin_min_age", Reason: fmt.Sprintf("%v is not between 0 and admin_history (%v)", o.AdminMinAge, o.AdminHistory)})
	}
	for i, p := range o.SecurityAlarms {
		if strings.TrimSpace(p) == "" {
			errs = append(errs, &detectors.OptionError{Key: fmt.Sprintf("security_alarms[%d]", i), Reason: "empty pattern"})
		}
	}
	return errors.Join(errs...)
}

// LoggingTampering raises when an identity turns off or weakens what would
// see it: CloudTrail trails and their event selectors, GuardDuty detectors,
// members, filters and trusted IP lists, AWS Config recorders and delivery
// channels, Security Hub and its standards, CloudWatch alarms and metric
// filters that watch identities and logging, VPC flow logs and Route 53
// Resolver query logs, and the organisation itself (LeaveOrganization
// leaves its trail, detectors and SCPs behind).
//
// A call that switches a service off (StopLogging, DeleteTrail,
// DeleteDetector, StopConfigurationRecorder, DisableSecurityHub, …) is
// HIGH; one that weakens it (management events dropped, multi-region or
// log file validation off, findings auto-archived, a standard or an alarm
// removed) is MEDIUM. Each is one step lower when the caller is a known
// administrator of logging: not a person (console, Identity Center, root,
// MFA sessions) and seen configuring logging without weakening it at least
// AdminMinAge earlier — the infrastructure-as-code role that owns the
// trails. A refused attempt (denied, or a member account trying to stop
// the organisation's trail) is LOW whoever made it; a call that failed for
// another reason (no such trail) changed nothing and is not raised.
//
// Constructive calls (CreateTrail, StartLogging, selectors that keep
// management events, CreateDetector, PutMetricAlarm, …) raise nothing: they
// only teach the detector who administers logging. Findings are one per
// principal, call and severity per hour, so a script that stops GuardDuty
// in every region raises one incident.
type LoggingTampering struct {
	info detectors.Info
	opts LoggingTamperingOptions
}

// NewLoggingTampering builds the detector from cfg, rejecting bad options
// with *OptionError values, joined.
func NewLoggingTampering(cfg detectors.Config) (detectors.Detector, error) {
	opts := DefaultLoggingTamperingOptions()
	if err := cfg.Decode(&opts); err != nil {
		return nil, err
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &LoggingTampering{
		info: detectors.Info{
			ID:    LoggingTamperingID,
			Title: "Logging or threat detection turned off or weakened",
			Description: "An identity stopped or deleted a CloudTrail trail, dropped management events from " +
				"its selectors, or switched off or blinded GuardDuty, AWS Config, Security Hub, the " +
				"CloudWatch alarms that watch identities, VPC flow logs or DNS query logs, or left the " +
				"organization: HIGH for switching off, MEDIUM for weakening, one " +
				"step lower for a known non-human administrator of logging, LOW for a refused attempt.",
			Severity:   detectors.SeverityHigh,
			Techniques: []string{"T1562.008", "T1562.001"},
		},
		opts: opts,
	}, nil
}

// Info implements Detector.
func (d *LoggingTampering) Info() detectors.Info { return d.info }

// Interests implements detectors.Selective: the calls of tamperCalls,
// which Observe looks up.
func (d *LoggingTampering) Interests() []detectors.Call {
	var calls []detectors.Call
	for source, names := range tamperCalls {
		calls = append(calls, callsOf(source, names)...)
	}
	return calls
}

// Observe implements Detector.
func (d *LoggingTampering) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	if !tamperNames.mayHold(r.EventName) {
		return nil
	}
	judge, ok := tamperCalls[r.EventSource][r.EventName]
	// A service acting for a principal (CloudFormation deleting a stack's
	// trail) is the principal's doing; only AWS's own calls are skipped:
	// AWSService callers and service-linked roles (Application Auto
	// Scaling deleting its target-tracking alarms), which no one can
	// assume.
	if !ok || r.UserIdentity.Type == "AWSService" || strings.Contains(r.UserIdentity.SessionIssuer.ARN, ":role/aws-service-role/") {
		return nil
	}
	principal := r.StablePrincipal()
	if principal == "" {
		return nil
	}
	if r.Failed() && !refused(r) {
		return nil
	}
	if r.EventSource == "cloudtrail.amazonaws.com" && !r.Failed() && (r.EventName == "CreateTrail" || r.EventName == "UpdateTrail") {
		prior := d.observeTrailConfig(ev, b)
		if r.EventName == "UpdateTrail" {
			return d.observeUpdateTrail(ev, b, principal, prior)
		}
	}
	t := judge(d, r)
	if t.kind == tamperNone {
		return nil
	}
	admin := ev.Key("principal:"+principal, "logging-admin:first")
	if t.kind == tamperAdmin {
		if r.Failed() {
			return nil
		}
		// Learning only: the finding-less evaluation keeps the contract
		// that a queued operation belongs to an evaluation.
		b.Mark(admin, r.EventTime, state.KeepEarliest, d.opts.AdminHistory)
		return detectors.EvaluationFunc(func() ([]detectors.Finding, error) { return nil, nil })
	}
	ta := &tampering{d: d, ev: ev, r: r, t: t, principal: principal}
	if !r.Failed() && !loggingHuman(r) {
		ta.known = b.ReadMark(admin)
	}
	return detectors.EvaluationFunc(ta.findings)
}

// refused reports whether a failed call was refused, not mistaken: denied,
// or turned away by the organisation's structure (a member account trying
// to stop the organisation trail gets NotOrganizationMasterAccountException).
// A missing trail, a bad name or a conflict changed nothing and says
// little.
func refused(r *cloudtrail.Record) bool {
	if r.Denied() {
		return true
	}
	for _, s := range [...]string{"Master", "Management", "Organization", "Permission", "Authoriz"} {
		if strings.Contains(r.ErrorCode, s) {
			return true
		}
	}
	return false
}

// loggingHuman reports whether r is a person's call: a session the
// location detectors treat as a person's, a console session, or root.
func loggingHuman(r *cloudtrail.Record) bool {
	return r.UserIdentity.Type == "Root" || consoleSession(r) || detectors.HumanSession(r)
}

// securityAlarm reports whether name matches a SecurityAlarms pattern.
func (d *LoggingTampering) securityAlarm(name string) bool {
	for _, p := range d.opts.SecurityAlarms {
		if wildcard.MatchFold(p, name) {
			return true
		}
	}
	return false
}

// tampering is one tampering call being evaluated.
type tampering struct {
	d         *LoggingTampering
	ev        *detectors.Event
	r         *cloudtrail.Record
	t         tamper
	principal string
	known     *state.Future[state.Mark] // nil for people and failed calls
}

func (ta *tampering) findings() ([]detectors.Finding, error) {
	r, t := ta.r, ta.t
	sev, score, who := detectors.SeverityHigh, 85, "an unusual principal (never seen configuring logging before)"
	if t.kind == tamperWeaken {
		sev, score = detectors.SeverityMedium, 60
	}
	if t.kind == tamperMinor {
		sev, score = detectors.SeverityLow, 35
	}
	switch {
	case r.Failed():
		sev, score, who = detectors.SeverityLow, 30, "a caller who was refused ("+r.ErrorCode+")"
	case ta.known == nil:
		who = "a person"
		score += 5
	default:
		m, err := ta.known.Get()
		if err != nil {
			return nil, err
		}
		switch {
		case m.Set && !m.At.After(r.EventTime.Add(-ta.d.opts.AdminMinAge)):
			who = "a known administrator of logging (first seen configuring it " + m.At.Format(time.RFC3339) + ")"
			sev, score = max(detectors.SeverityLow, sev-1), score-20
		case m.Set:
			who = "a principal that first configured logging only at " + m.At.Format(time.RFC3339)
		}
	}
	f := detectors.NewFinding(ta.d.info, r, sev, score)
	hour := state.BucketStart(r.EventTime, time.Hour).Format("20060102T15")
	f.Once = detectors.OncePer(ta.ev.Key("principal:"+ta.principal, "tamper:raised:"+r.EventSource+":"+r.EventName+":"+sev.String()+":"+hour), time.Hour)
	f.Evidence["service"] = serviceOf(r.EventSource)
	f.Evidence["change"] = t.what
	f.Evidence["caller_kind"] = who
	if t.target != "" {
		f.Evidence["target"] = t.target
	}
	if r.ErrorCode != "" {
		f.Evidence["error_code"] = r.ErrorCode
	}
	f.Explanation = ta.explain(who)
	return []detectors.Finding{f}, nil
}

func (ta *tampering) explain(who string) string {
	r, t := ta.r, ta.t
	var sb strings.Builder
	verb := "called"
	if r.Failed() {
		verb = "tried"
	}
	fmt.Fprintf(&sb, "%s %s %s:%s", detectors.Actor(r), verb, serviceOf(r.EventSource), r.EventName)
	if t.target != "" {
		fmt.Fprintf(&sb, " on %s", t.target)
	}
	fmt.Fprintf(&sb, " in %s from %s: %s; the caller is %s", r.AWSRegion, r.SourceIPAddress, t.what, who)
	return sb.String()
}
