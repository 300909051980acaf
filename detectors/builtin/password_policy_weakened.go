package builtin

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// PasswordPolicyWeakenedID is the stable id of the password-policy-weakened
// detector.
const PasswordPolicyWeakenedID = "password-policy-weakened"

// pwHistory is how long an account's password policies are remembered.
const pwHistory = 400 * 24 * time.Hour

// pwMaxPolicies bounds the policies read back: accounts change theirs a
// few times a year.
const pwMaxPolicies = 500

// pwCISLength is the minimum length CIS AWS Foundations (1.8) asks for.
const pwCISLength = 14

// PasswordPolicyWeakened raises a finding when an account's IAM password
// policy is weakened: UpdateAccountPasswordPolicy shortening the minimum
// length, dropping a character requirement, lengthening or removing the
// maximum age, or allowing more reuse than the policy it replaces, and
// DeleteAccountPasswordPolicy. Weaker passwords are what password spraying
// and reuse of leaked passwords need.
//
// Every policy is remembered per account with its event time, so a change
// is compared with the policy in force just before it whatever order the
// records arrive in: a record scored after a later one it precedes judges
// that later change too (one incident per change and severity: a change
// first judged on its own and then against the policy it replaced may
// raise both). MEDIUM for a known
// weakening and for a deletion. When no earlier policy is known, the policy
// is judged on its own: LOW below the CIS minimum length of 14, MEDIUM when
// it also requires no character class. Tightening and strong policies are
// quiet, as are failed calls.
type PasswordPolicyWeakened struct {
	info detectors.Info
}

// NewPasswordPolicyWeakened returns the detector. It takes no options.
func NewPasswordPolicyWeakened(detectors.Config) (detectors.Detector, error) {
	return &PasswordPolicyWeakened{info: detectors.Info{
		ID:    PasswordPolicyWeakenedID,
		Title: "Account password policy weakened",
		Description: "The account's IAM password policy was weakened (UpdateAccountPasswordPolicy shortening the " +
			"minimum length, dropping a character requirement, lengthening or removing the maximum age, allowing " +
			"reuse) or deleted (DeleteAccountPasswordPolicy): MEDIUM, compared with the policy in force before it " +
			"in event time, whatever the delivery order. With no earlier policy known, LOW below the CIS minimum " +
			"length of 14, MEDIUM when it also requires no character class.",
		Severity:   detectors.SeverityMedium,
		Techniques: []string{"T1556", "T1110"},
	}}, nil
}

// Info implements Detector.
func (d *PasswordPolicyWeakened) Info() detectors.Info { return d.info }

// pwPolicy is what a password policy requires.
type pwPolicy struct {
	MinLength int  `json:"minimumPasswordLength"`
	Symbols   bool `json:"requireSymbols"`
	Numbers   bool `json:"requireNumbers"`
	Upper     bool `json:"requireUppercaseCharacters"`
	Lower     bool `json:"requireLowercaseCharacters"`
	MaxAge    int  `json:"maxPasswordAge"`          // days; 0: passwords never expire
	Reuse     int  `json:"passwordReusePrevention"` // remembered passwords; 0: reuse allowed
	Deleted   bool `json:"-"`
}

// pwDefaultLength is the minimum length IAM applies when a request or the
// account names none.
const pwDefaultLength = 8

// member encodes p at t as a windowed-set member: unique per change and
// sortable by its time.
func (p pwPolicy) member(t time.Time) string {
	if p.Deleted {
		return fmt.Sprintf("%020d|deleted", t.UnixNano())
	}
	return fmt.Sprintf("%020d|%d|%t|%t|%t|%t|%d|%d", t.UnixNano(), p.MinLength, p.Symbols, p.Numbers, p.Upper, p.Lower, p.MaxAge, p.Reuse)
}

// parsePwMember decodes a member; ok is false for a malformed one.
func parsePwMember(m string) (p pwPolicy, at time.Time, ok bool) {
	parts := strings.Split(m, "|")
	ns, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil {
		return p, at, false
	}
	at = time.Unix(0, ns).UTC()
	if len(parts) == 2 && parts[1] == "deleted" {
		return pwPolicy{MinLength: pwDefaultLength, Deleted: true}, at, true
	}
	if len(parts) != 8 {
		return p, at, false
	}
	var errs [7]error
	p.MinLength, errs[0] = strconv.Atoi(parts[1])
	p.Symbols, errs[1] = strconv.ParseBool(parts[2])
	p.Numbers, errs[2] = strconv.ParseBool(parts[3])
	p.Upper, errs[3] = strconv.ParseBool(parts[4])
	p.Lower, errs[4] = strconv.ParseBool(parts[5])
	p.MaxAge, errs[5] = strconv.Atoi(parts[6])
	p.Reuse, errs[6] = strconv.Atoi(parts[7])
	for _, e := range errs {
		if e != nil {
			return p, at, false
		}
	}
	return p, at, true
}

// weakenings lists what next gives up compared with prev, in words.
func weakenings(prev, next pwPolicy) []string {
	var out []string
	if next.Deleted {
		return []string{"the policy was deleted: IAM falls back to its default of 8 characters"}
	}
	if next.MinLength < prev.MinLength {
		out = append(out, fmt.Sprintf("minimum length %d → %d", prev.MinLength, next.MinLength))
	}
	for _, c := range []struct {
		name    string
		was, is bool
	}{{"symbols", prev.Symbols, next.Symbols}, {"numbers", prev.Numbers, next.Numbers},
		{"upper-case letters", prev.Upper, next.Upper}, {"lower-case letters", prev.Lower, next.Lower}} {
		if c.was && !c.is {
			out = append(out, "no longer requires "+c.name)
		}
	}
	if prev.MaxAge > 0 && (next.MaxAge == 0 || next.MaxAge > prev.MaxAge) {
		out = append(out, fmt.Sprintf("maximum age %s → %s", ageWords(prev.MaxAge), ageWords(next.MaxAge)))
	}
	if next.Reuse < prev.Reuse {
		out = append(out, fmt.Sprintf("reuse prevention %d → %d passwords", prev.Reuse, next.Reuse))
	}
	return out
}

func ageWords(days int) string {
	if days == 0 {
		return "never expires"
	}
	return strconv.Itoa(days) + " days"
}

// pwChange is one policy change being judged.
type pwChange struct {
	d      *PasswordPolicyWeakened
	ev     *detectors.Event
	policy pwPolicy
	ident  string
	before *state.Future[state.Window]
	after  *state.Future[state.Window]
}

// Interests implements detectors.Selective: the two calls Observe takes.
func (d *PasswordPolicyWeakened) Interests() []detectors.Call {
	return []detectors.Call{
		{Source: "iam.amazonaws.com", Name: "UpdateAccountPasswordPolicy"},
		{Source: "iam.amazonaws.com", Name: "DeleteAccountPasswordPolicy"},
	}
}

// Observe implements Detector.
func (d *PasswordPolicyWeakened) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	if r.EventSource != "iam.amazonaws.com" || r.Failed() ||
		(r.EventName != "UpdateAccountPasswordPolicy" && r.EventName != "DeleteAccountPasswordPolicy") {
		return nil
	}
	c := &pwChange{d: d, ev: ev, ident: "pwpolicy:" + accountOf(r)}
	switch r.EventName {
	case "UpdateAccountPasswordPolicy":
		if err := r.Params(&c.policy); err != nil {
			return nil // unreadable: nothing to compare
		}
		if c.policy.MinLength == 0 {
			c.policy.MinLength = pwDefaultLength
		}
	case "DeleteAccountPasswordPolicy":
		c.policy = pwPolicy{MinLength: pwDefaultLength, Deleted: true}
	default:
		return nil
	}
	t, key := r.EventTime, ev.Key(c.ident, "policies")
	b.WindowAdd(key, c.policy.member(t), t, state.Span{From: t, To: t}, pwHistory)
	// Spans exclude this change by a millisecond: backends keep event
	// time at different resolutions (Redis in microseconds), and
	// CloudTrail's is a second.
	c.before = b.WindowRead(key, state.Span{From: t.Add(-pwHistory), To: t.Add(-time.Millisecond)}, pwMaxPolicies)
	c.after = b.WindowRead(key, state.Span{From: t.Add(time.Millisecond), To: t.Add(24 * time.Hour)}, 1)
	return c
}

// Findings implements Evaluation.
func (c *pwChange) Findings() ([]detectors.Finding, error) {
	before, err := c.before.Get()
	if err != nil {
		return nil, err
	}
	after, err := c.after.Get()
	if err != nil {
		return nil, err
	}
	r := c.ev.Record
	var out []detectors.Finding
	prev, _, known := lastPolicy(before.Members)
	if f, ok := c.judge(prev, known, c.policy, r.EventTime); ok {
		out = append(out, f)
	}
	if len(after.Members) > 0 {
		// A later change was scored before this one: it was judged without
		// this policy, so judge it again, as its own incident.
		if next, at, ok := parsePwMember(after.Members[0]); ok {
			if f, ok := c.judge(c.policy, true, next, at); ok {
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// lastPolicy is the latest well-formed policy of members (earliest first).
func lastPolicy(members []string) (pwPolicy, time.Time, bool) {
	for i := len(members) - 1; i >= 0; i-- {
		if p, at, ok := parsePwMember(members[i]); ok {
			return p, at, true
		}
	}
	return pwPolicy{}, time.Time{}, false
}

// judge rates the change to next at time at, from prev when known.
func (c *pwChange) judge(prev pwPolicy, known bool, next pwPolicy, at time.Time) (detectors.Finding, bool) {
	r := c.ev.Record
	sev, score, why := detectors.SeverityMedium, 55, ""
	switch {
	case next.Deleted:
		why = weakenings(prev, next)[0]
	case known:
		ws := weakenings(prev, next)
		if len(ws) == 0 {
			return detectors.Finding{}, false
		}
		why = "weaker than the policy it replaced: " + strings.Join(ws, ", ")
	case next.MinLength >= pwCISLength:
		return detectors.Finding{}, false
	case !next.Symbols && !next.Numbers && !next.Upper && !next.Lower:
		why = fmt.Sprintf("no earlier policy is known; it asks for %d characters and no character class", next.MinLength)
	default:
		sev, score = detectors.SeverityLow, 30
		why = fmt.Sprintf("no earlier policy is known; its minimum length %d is below the CIS minimum of %d", next.MinLength, pwCISLength)
	}
	f := detectors.NewFinding(c.d.info, r, sev, score)
	what := "changed the account password policy"
	if next.Deleted {
		what = "deleted the account password policy"
	}
	f.Explanation = fmt.Sprintf("%s %s of account %s at %s from %s: %s", detectors.Actor(r), what,
		strings.TrimPrefix(c.ident, "pwpolicy:"), at.Format(time.RFC3339), r.SourceIPAddress, why)
	f.Evidence["changed_at"] = at.Format(time.RFC3339)
	f.Evidence["minimum_length"] = strconv.Itoa(next.MinLength)
	f.Once = detectors.OncePer(c.ev.Key(c.ident, "weakened:"+strconv.FormatInt(at.UnixNano(), 10)+":"+sev.String()), 24*time.Hour)
	return f, true
}
