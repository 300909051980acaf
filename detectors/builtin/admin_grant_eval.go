package builtin

import (
	"fmt"
	"strconv"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/policy"
	"github.com/iamsentry/iamsentry/state"
)

// granted is one grant to an IAM entity being judged.
type granted struct {
	g          adminCall
	kind, name string // the target
	what       string // the grant, in words: `arn:aws:iam::aws:policy/IAMFullAccess`, `membership of group "admins"`
	level      grantLevel
	why        string // what the grant gives
	evidence   map[string]string
	marks      []detectors.SetMark // set with the finding (admin grants known only after reading state)
	created    *state.Future[state.Mark]
}

// creation marks a new user, role or group and, when an admin grant to it
// arrived first, raises the CRITICAL the grant could not.
func (g adminCall) creation(b *state.Batch) detectors.Evaluation {
	kind, name := g.p.target()
	if name == "" || g.r.Failed() {
		return nil
	}
	b.Mark(g.createdKey(kind, name), g.r.EventTime, state.KeepLatest, adminFreshWindow+time.Hour)
	grantMark := b.ReadMark(g.grantedKey(kind, name))
	var js joins
	if kind == "user" {
		js = g.readJoins(b, name)
	}
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		m, err := grantMark.Get()
		if err != nil {
			return nil, err
		}
		created := g.r.EventTime
		group, joinedAt, joined, err := js.adminJoin()
		if err != nil {
			return nil, err
		}
		if !m.Set || m.At.Before(created) || m.At.Sub(created) > adminFreshWindow {
			if !joined {
				return nil, nil
			}
			m = state.Mark{Set: true, At: joinedAt} // a membership judged in this very batch
		}
		f := g.finding(detectors.SeverityCritical, 95, kind, name)
		if joined && m.At.Equal(joinedAt) {
			f.Evidence["group_name"] = group
		}
		f.Evidence["target_created"] = created.Format(time.RFC3339)
		f.Evidence["admin_granted"] = m.At.Format(time.RFC3339)
		f.Once = g.newAdminOnce(kind, name, created, m.At)
		f.Incident = g.grantIncident(kind, name, m.At)
		f.Explanation = fmt.Sprintf("%s created %s %q at %s, and it was given administrator-equivalent permissions %s later "+
			"(at %s, recorded by an earlier-delivered record): a new identity made administrator",
			detectors.Actor(g.r), kind, name, created.Format(time.RFC3339), m.At.Sub(created).Round(time.Second), m.At.Format(time.RFC3339))
		return []detectors.Finding{f}, nil
	})
}

// newAdminOnce is the incident of "target created at c, made admin at a":
// the same whichever of the two records raises it.
func (g adminCall) newAdminOnce(kind, name string, c, a time.Time) *detectors.Once {
	key := g.ev.Key(g.entity(kind, name), "new-admin:"+strconv.FormatInt(c.Unix(), 10)+":"+strconv.FormatInt(a.Unix(), 10))
	return detectors.OncePer(key, adminFreshWindow)
}

// grantIncident names the incident of an admin grant to a target at time
// at: the grant's own HIGH (when it arrived before the creation) and the
// CRITICAL of "created, then made admin" (raised by whichever record came
// second) are one incident, so both arrival orders give the same incidents.
func (g adminCall) grantIncident(kind, name string, at time.Time) string {
	return g.d.info.ID + "/" + g.entity(kind, name) + "/admin-grant:" + strconv.FormatInt(at.Unix(), 10)
}

// attach judges Attach{User,Role,Group}Policy.
func (g adminCall) attach(b *state.Batch) detectors.Evaluation {
	kind, name := g.p.target()
	arn := g.p.PolicyARN
	if name == "" || arn == "" {
		return nil
	}
	gr := granted{g: g, kind: kind, name: name, what: arn, evidence: map[string]string{"policy_arn": arn}}
	if managed := awsManagedName(arn); managed != "" {
		mg, ok := awsManaged[managed]
		if !ok {
			return nil
		}
		gr.level, gr.why = mg.level, mg.why
		if g.r.Failed() {
			if gr.level < levelAdmin {
				return nil
			}
			return detectors.EvaluationFunc(gr.attempt)
		}
		if gr.level == levelAdmin {
			setMarks(b, g.adminMarks(kind, name))
			if kind == "group" {
				g.rememberAdminGroup(b, name)
			}
		}
		gr.created = b.ReadMark(g.createdKey(kind, name))
		return detectors.EvaluationFunc(gr.findings)
	}
	if !customerPolicy(arn) || g.r.Failed() {
		return nil
	}
	mem := g.readPolicy(b, arn)
	gr.created = b.ReadMark(g.createdKey(kind, name))
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		l, version, seen, err := mem.level()
		if err != nil || !seen || l == levelNone {
			return nil, err // never seen, or grants nothing risky: no guess
		}
		gr.level, gr.why = l, "its default version "+version+" grants "+l.String()+" permissions (seen by iamsentry)"
		gr.evidence["policy_default_version"] = version
		if l == levelAdmin {
			gr.marks = g.adminMarks(kind, name)
		}
		return gr.findings()
	})
}

// addToGroup judges AddUserToGroup into a group holding an admin grant.
func (g adminCall) addToGroup(b *state.Batch) detectors.Evaluation {
	user, group := g.p.UserName, g.p.GroupName
	if user == "" || group == "" || g.r.Failed() {
		return nil
	}
	groupMark := b.ReadMark(g.grantedKey("group", group))
	g.rememberJoin(b, user, group)
	gr := granted{g: g, kind: "user", name: user, what: fmt.Sprintf("membership of group %q", group), level: levelAdmin,
		evidence: map[string]string{"group_name": group}, created: b.ReadMark(g.createdKey("user", user))}
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		m, err := groupMark.Get()
		if err != nil {
			return nil, err
		}
		if !m.Set || m.At.After(g.r.EventTime) {
			return nil, nil // the group holds no admin grant iamsentry saw, or only from later
		}
		gr.why = "the group was given administrator-equivalent permissions at " + m.At.Format(time.RFC3339)
		gr.evidence["group_admin_since"] = m.At.Format(time.RFC3339)
		gr.marks = []detectors.SetMark{g.grantedMark("user", user)}
		return gr.findings()
	})
}

// putGroup remembers a group's inline admin grant (policy-weakened reports
// the grant itself).
func (g adminCall) putGroup(b *state.Batch) {
	if g.p.GroupName == "" || g.r.Failed() {
		return
	}
	if sum, err := policy.Analyze(g.p.PolicyDocument); err == nil && levelOf(sum) == levelAdmin {
		setMarks(b, []detectors.SetMark{g.grantedMark("group", g.p.GroupName)})
		g.rememberAdminGroup(b, g.p.GroupName)
	}
}

func (gr granted) attempt() ([]detectors.Finding, error) {
	f := gr.finding(detectors.SeverityMedium, 50)
	f.Evidence["error_code"] = gr.g.r.ErrorCode
	f.Explanation = fmt.Sprintf("%s attempted to attach %s to %s %q; the call failed with %s",
		detectors.Actor(gr.g.r), gr.what, gr.kind, gr.name, gr.g.r.ErrorCode)
	return []detectors.Finding{f}, nil
}

func (gr granted) finding(sev detectors.Severity, score int) detectors.Finding {
	f := gr.g.finding(sev, score, gr.kind, gr.name)
	for k, v := range gr.evidence {
		f.Evidence[k] = v
	}
	f.Evidence["grant"] = gr.level.String()
	if gr.why != "" {
		f.Evidence["grants"] = gr.why
	}
	f.Marks = append(f.Marks, gr.marks...)
	return f
}

func (gr granted) findings() ([]detectors.Finding, error) {
	mark, err := gr.created.Get()
	if err != nil {
		return nil, err
	}
	r := gr.g.r
	who := detectors.Actor(r)
	if gr.level == levelEscalation {
		f := gr.finding(detectors.SeverityMedium, 55)
		f.Explanation = fmt.Sprintf("%s gave %s %q %s, which is escalation-capable: %s", who, gr.kind, gr.name, gr.what, gr.why)
		return []detectors.Finding{f}, nil
	}
	age := r.EventTime.Sub(mark.At)
	if mark.Set && age >= 0 && age <= adminFreshWindow {
		f := gr.finding(detectors.SeverityCritical, 95)
		f.Evidence["target_created"] = mark.At.Format(time.RFC3339)
		f.Once = gr.g.newAdminOnce(gr.kind, gr.name, mark.At, r.EventTime)
		f.Incident = gr.g.grantIncident(gr.kind, gr.name, r.EventTime)
		f.Explanation = fmt.Sprintf("%s gave %s %q %s (%s), and it was created %s earlier (at %s): a new identity made administrator",
			who, gr.kind, gr.name, gr.what, gr.why, age.Round(time.Second), mark.At.Format(time.RFC3339))
		return []detectors.Finding{f}, nil
	}
	f := gr.finding(detectors.SeverityHigh, 80)
	f.Incident = gr.g.grantIncident(gr.kind, gr.name, r.EventTime)
	if mark.Set {
		f.Evidence["target_created"] = mark.At.Format(time.RFC3339)
	}
	f.Explanation = fmt.Sprintf("%s gave %s %q %s, which is administrator-equivalent: %s", who, gr.kind, gr.name, gr.what, gr.why)
	return []detectors.Finding{f}, nil
}

func (g adminCall) finding(sev detectors.Severity, score int, kind, name string) detectors.Finding {
	f := detectors.NewFinding(g.d.info, g.r, sev, score)
	if kind == "role" {
		f.Techniques = append(f.Techniques, "T1098.003")
	}
	f.Evidence["actor"] = detectors.Actor(g.r)
	if kind != "" {
		f.Evidence["target_type"] = kind
		f.Evidence["target_name"] = name
	}
	return f
}

// detach raises HIGH when an AWSCompromisedKeyQuarantine policy is taken
// off: it undoes AWS's containment of an exposed key.
func (g adminCall) detach() detectors.Evaluation {
	kind, name := g.p.target()
	managed := awsManagedName(g.p.PolicyARN)
	if name == "" || !quarantinePolicies[managed] || g.r.Failed() {
		return nil
	}
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		f := g.finding(detectors.SeverityHigh, 85, kind, name)
		f.Techniques = append(f.Techniques, "T1562")
		f.Evidence["policy_arn"] = g.p.PolicyARN
		f.Explanation = fmt.Sprintf("%s detached %s from %s %q: AWS attached it because a key of the %s was exposed, and removing it "+
			"lifts the containment", detectors.Actor(g.r), managed, kind, name, kind)
		return []detectors.Finding{f}, nil
	})
}

// boundaryDeleted raises HIGH when a permissions boundary is deleted: the
// boundary capped what the identity could do, whatever it is granted.
func (g adminCall) boundaryDeleted() detectors.Evaluation {
	kind, name := g.p.target()
	if name == "" || g.r.Failed() {
		return nil
	}
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		f := g.finding(detectors.SeverityHigh, 80, kind, name)
		f.Explanation = fmt.Sprintf("%s deleted the permissions boundary of %s %q: everything its policies grant is now in effect, "+
			"a known privilege escalation step", detectors.Actor(g.r), kind, name)
		return []detectors.Finding{f}, nil
	})
}
