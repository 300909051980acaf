package builtin

import (
	"fmt"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// AdminPolicyAttachedID is the stable id of the admin-policy-attached detector.
const AdminPolicyAttachedID = "admin-policy-attached"

// adminFreshWindow is how recently a target must have been created for an
// admin attachment to it to be CRITICAL: a principal created and made admin
// within a day is the classic persistence move.
const adminFreshWindow = 24 * time.Hour

// AdminPolicyAttached raises a finding when the AWS managed
// AdministratorAccess policy is attached to a user, role or group.
//
// A successful attachment is HIGH; CRITICAL when the target was created
// (CreateUser/CreateRole/CreateGroup seen by the service) within the 24 hours
// of event time before it; a failed attempt is MEDIUM. To know creation
// times it remembers, per target, the latest creation it saw.
type AdminPolicyAttached struct {
	info detectors.Info
}

// NewAdminPolicyAttached returns the detector. It takes no options.
func NewAdminPolicyAttached(detectors.Config) (detectors.Detector, error) {
	return &AdminPolicyAttached{info: detectors.Info{
		ID:    AdminPolicyAttachedID,
		Title: "AdministratorAccess attached to an IAM identity",
		Description: "A user, role or group was given the AWS managed AdministratorAccess policy " +
			"(AttachUserPolicy/AttachRolePolicy/AttachGroupPolicy). CRITICAL when the target was " +
			"created within the previous 24 hours; MEDIUM for a failed attempt.",
		Severity:   detectors.SeverityHigh,
		Techniques: []string{"T1098"},
	}}, nil
}

// Info implements Detector.
func (d *AdminPolicyAttached) Info() detectors.Info { return d.info }

// targetKinds maps the IAM calls this detector reads to the kind of target
// they name and the request parameter holding its name.
var targetKinds = map[string]struct{ kind, param string }{
	"CreateUser":        {"user", "userName"},
	"CreateRole":        {"role", "roleName"},
	"CreateGroup":       {"group", "groupName"},
	"AttachUserPolicy":  {"user", "userName"},
	"AttachRolePolicy":  {"role", "roleName"},
	"AttachGroupPolicy": {"group", "groupName"},
}

// Observe implements Detector.
func (d *AdminPolicyAttached) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	if r.EventSource != "iam.amazonaws.com" {
		return nil
	}
	target, ok := targetKinds[r.EventName]
	if !ok {
		return nil
	}
	var params map[string]any
	if err := r.Params(&params); err != nil {
		return nil // requestParameters of an unexpected shape: nothing to read
	}
	name, _ := params[target.param].(string)
	if name == "" {
		return nil
	}
	key := ev.Key(detectors.IAMEntity(r.AccountID(), target.kind, name), "created")
	if strings.HasPrefix(r.EventName, "Create") {
		if !r.Failed() {
			b.Mark(key, r.EventTime, state.KeepLatest, adminFreshWindow+time.Hour)
		}
		return nil
	}
	policy, _ := params["policyArn"].(string)
	if !IsAdministratorAccess(policy) {
		return nil
	}
	a := attachment{d: d, r: r, kind: target.kind, name: name, policy: policy}
	if r.Failed() {
		return detectors.EvaluationFunc(a.attempt)
	}
	a.created = b.ReadMark(key)
	return detectors.EvaluationFunc(a.findings)
}

// IsAdministratorAccess reports whether arn is the AWS managed
// AdministratorAccess policy in any partition
// (arn:<partition>:iam::aws:policy/AdministratorAccess).
func IsAdministratorAccess(arn string) bool {
	rest, ok := strings.CutPrefix(arn, "arn:")
	if !ok {
		return false
	}
	partition, rest, ok := strings.Cut(rest, ":")
	return ok && partition != "" && !strings.Contains(partition, "/") &&
		rest == "iam::aws:policy/AdministratorAccess"
}

// attachment is one AdministratorAccess attachment being evaluated.
type attachment struct {
	d       *AdminPolicyAttached
	r       *cloudtrail.Record
	kind    string
	name    string
	policy  string
	created *state.Future[state.Mark]
}

func (a attachment) finding(sev detectors.Severity, score int) detectors.Finding {
	f := detectors.NewFinding(a.d.info, a.r, sev, score)
	if a.kind == "role" {
		f.Techniques = append(f.Techniques, "T1098.003")
	}
	f.Evidence["actor"] = detectors.Actor(a.r)
	f.Evidence["target_type"] = a.kind
	f.Evidence["target_name"] = a.name
	f.Evidence["policy_arn"] = a.policy
	return f
}

func (a attachment) attempt() ([]detectors.Finding, error) {
	f := a.finding(detectors.SeverityMedium, 50)
	f.Evidence["error_code"] = a.r.ErrorCode
	f.Explanation = fmt.Sprintf("%s attempted to attach %s to %s %q; the call failed with %s",
		detectors.Actor(a.r), a.policy, a.kind, a.name, a.r.ErrorCode)
	return []detectors.Finding{f}, nil
}

func (a attachment) findings() ([]detectors.Finding, error) {
	mark, err := a.created.Get()
	if err != nil {
		return nil, err
	}
	age := a.r.EventTime.Sub(mark.At)
	if mark.Set && age >= 0 && age <= adminFreshWindow {
		f := a.finding(detectors.SeverityCritical, 95)
		f.Evidence["target_created"] = mark.At.Format(time.RFC3339)
		f.Explanation = fmt.Sprintf("%s attached %s to %s %q, which was created %s earlier (at %s): a new identity made administrator",
			detectors.Actor(a.r), a.policy, a.kind, a.name, age.Round(time.Second), mark.At.Format(time.RFC3339))
		return []detectors.Finding{f}, nil
	}
	f := a.finding(detectors.SeverityHigh, 80)
	if mark.Set {
		f.Evidence["target_created"] = mark.At.Format(time.RFC3339)
	}
	f.Explanation = fmt.Sprintf("%s attached %s to %s %q, giving it full administrator rights",
		detectors.Actor(a.r), a.policy, a.kind, a.name)
	return []detectors.Finding{f}, nil
}
