package builtin

import (
	"fmt"
	"strings"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"

	"github.com/iamsentry/iamsentry/detectors/policy"
)

var severityScores = map[detectors.Severity]int{detectors.SeverityCritical: 95, detectors.SeverityHigh: 80, detectors.SeverityMedium: 55, detectors.SeverityLow: 30}

// judge reports what next grants that is risky: everything, when the
// previous effective document is unknown; only what it adds otherwise.
func (c change) judge(next policy.Summary, before remembered) []detectors.Finding {
	var flags []flagged
	if before.known {
		d := policy.Diff(before.summary, next)
		flags = c.flags(d.Added)
		for _, fl := range c.flags(d.Unconditioned) {
			fl.dropped = true
			flags = append(flags, fl)
		}
	} else {
		flags = c.flags(next.Grants)
	}
	reasserted := false
	if len(flags) == 0 && before.known {
		flags, reasserted = c.reasserted(next), true
	}
	if len(flags) == 0 {
		return nil
	}
	sev := detectors.SeverityUnknown
	for _, fl := range flags {
		sev = max(sev, fl.sev)
	}
	f := c.finding(sev, severityScores[sev], flags, "grants")
	var what string
	switch {
	case reasserted:
		f.Evidence["previous"] = c.previous(before)
		f.Evidence["reasserted"] = "true"
		what = "it " + words(flags, "grants ") + " again, as " + c.previous(before) + " did: a rewrite of an administrator-equivalent " +
			"document hands its grant to whoever the policy is attached to, whatever was there before (a version rolled back " +
			"unseen, or the same thief's earlier change)"
	case before.known:
		f.Evidence["adds"] = f.Evidence["grants"]
		f.Evidence["previous"] = c.previous(before)
		what = "compared with " + c.previous(before) + " it " + words(flags, "adds ")
	case c.isNew:
		f.Evidence["previous"] = "none (new)"
		what = "it grants " + words(flags, "")
	default:
		f.Evidence["previous"] = "not seen"
		what = "it grants " + words(flags, "") + " (the document it replaces was not seen, so all of it counts)"
	}
	if next.Truncated {
		what += "; the document grants more than iamsentry keeps track of"
	}
	f.Explanation = fmt.Sprintf("%s %s; %s", c.who(), c.verb(true), what)
	c.trustEvidence(&f)
	return []detectors.Finding{f}
}

// reasserted returns the unconditional administrator-equivalent grants of
// next, one severity below their own: a new effective document that
// grants Action * on Resource * again adds nothing over the previous one,
// but writing it is what a thief does to re-establish it after a rollback
// CloudTrail did not show, or with a second stolen identity. Lesser broad
// grants rewritten unchanged stay quiet: IaC rewrites those all day.
func (c change) reasserted(next policy.Summary) []flagged {
	var out []flagged
	for _, fl := range c.flags(next.Grants) {
		if fl.Kind == policy.KindAdmin && !fl.Conditional {
			fl.sev--
			out = append(out, fl)
		}
	}
	return out
}

// unreadable reports a document IAM accepted but the analyzer could not
// read: a blind spot the SOC should look at by hand.
func (c change) unreadable(err error) []detectors.Finding {
	f := c.finding(detectors.SeverityLow, 25, nil, "")
	f.Evidence["analysis_error"] = err.Error()
	f.Explanation = fmt.Sprintf("%s %s, but the document could not be analyzed (%v); review it by hand",
		c.who(), c.verb(true), err)
	return []detectors.Finding{f}
}

// unseen reports a version made default whose document the detector never
// saw, so cannot judge. SetDefaultPolicyVersion is also how an attacker
// rolls a policy back to an older, broader version.
func (c change) unseen(seen bool) []detectors.Finding {
	if !c.d.opts.ReportUnseenVersions {
		return nil
	}
	f := c.finding(detectors.SeverityLow, 30, nil, "")
	f.Evidence["previous"] = "version document not seen"
	why := fmt.Sprintf("its document was not seen by iamsentry (created before it ran or more than %s ago)", detectors.Days(c.d.opts.StateTTL))
	if seen {
		why = "its document could not be analyzed when it was created"
	}
	f.Explanation = fmt.Sprintf("%s %s; %s, so what it grants is unknown: review it, since making an older version "+
		"default is a known way to regain permissions", c.who(), c.verb(true), why)
	return []detectors.Finding{f}
}

func (c change) finding(sev detectors.Severity, score int, flags []flagged, key string) detectors.Finding {
	f := detectors.NewFinding(c.d.info, c.r, sev, score)
	if sev == detectors.SeverityCritical && c.r.EventName == "PutRolePolicy" && !c.r.Failed() && c.evidence["target_name"] != "" {
		// An inline policy granting everything makes the role privileged:
		// privileged-role-assumption-spike counts its assumptions from now.
		f.Marks = append(f.Marks, detectors.SetMark{
			Key: detectors.PrivilegedRoleMark(c.ev, c.account, c.evidence["target_name"]),
			At:  c.r.EventTime, Keep: state.KeepEarliest, TTL: detectors.PrivilegedRoleMarkTTL,
		})
	}
	for k, v := range c.evidence {
		f.Evidence[k] = v
	}
	if key != "" {
		f.Evidence[key] = words(flags, "")
		var reasons []string
		for _, fl := range flags {
			if fl.why != "" {
				reasons = append(reasons, fl.why)
			}
		}
		if len(reasons) > 0 {
			f.Evidence["reason"] = strings.Join(reasons, "; ")
		}
	}
	return f
}

// who names the caller and where the call came from.
func (c change) who() string {
	if c.r.SourceIPAddress == "" {
		return detectors.Actor(c.r)
	}
	return detectors.Actor(c.r) + " from " + c.r.SourceIPAddress
}

// verb says what the call did, in the past tense or, for attempts, as an
// infinitive.
func (c change) verb(past bool) string {
	pick := func(now, then string) string {
		if past {
			return then
		}
		return now
	}
	switch c.r.EventName {
	case "CreatePolicy":
		return pick("create", "created") + " " + c.what + " (version " + c.version + ")"
	case "CreatePolicyVersion":
		return pick("create", "created") + " version " + c.version + " of " + c.what + " as its default"
	case "SetDefaultPolicyVersion":
		return pick("make", "made") + " version " + c.version + " the default of " + c.what
	case "CreateRole":
		return pick("create", "created") + fmt.Sprintf(" role %q with a trust policy", c.evidence["target_name"])
	case "UpdateAssumeRolePolicy":
		return pick("update", "updated") + " " + c.what
	}
	return "put " + c.what
}

// previous names the document compared against.
func (c change) previous(before remembered) string {
	switch {
	case c.kind != "managed":
		return "the previous document"
	case before.version != "":
		return "the previous default version " + before.version
	}
	return "the previous default version"
}

// words lists flagged grants with their severity and the reason, each after
// verb ("adds ").
func words(flags []flagged, verb string) string {
	parts := make([]string, len(flags))
	for i, fl := range flags {
		v := verb
		if fl.dropped {
			v = "drops the Condition on "
		}
		s := v + fl.Grant.String() + " [" + fl.sev.String()
		if fl.why != "" {
			s += ": " + fl.why
		}
		parts[i] = s + "]"
	}
	return strings.Join(parts, "; ")
}
