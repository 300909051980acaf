package builtin

import (
	"fmt"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/policy"
	"github.com/iamsentry/iamsentry/state"
)

// IAM Identity Center grants: a permission set is a policy template that
// becomes a role in every account it is assigned to. An admin policy in a
// permission set is an admin grant to everyone assigned it; an assignment
// of such a permission set is an admin grant to its principal.

// permissionSet judges AttachManagedPolicyToPermissionSet and
// PutInlinePolicyToPermissionSet.
func (g adminCall) permissionSet(b *state.Batch) detectors.Evaluation {
	ps := g.p.PermissionSetARN
	if ps == "" || g.r.Failed() {
		return nil
	}
	var level grantLevel
	var what, why string
	if g.r.EventName == "AttachManagedPolicyToPermissionSet" {
		mg, ok := awsManaged[awsManagedName(g.p.ManagedPolicyARN)]
		if !ok {
			return nil
		}
		level, what, why = mg.level, g.p.ManagedPolicyARN, mg.why
	} else {
		sum, err := policy.Analyze(g.p.InlinePolicy)
		if err != nil {
			return nil // unreadable: policy-weakened's kind of blind spot, not a grant judged here
		}
		level, what, why = levelOf(sum), "an inline policy", "it grants "+grantWords(sum)
	}
	if level == levelNone {
		return nil
	}
	if level == levelAdmin {
		b.Mark(g.permissionSetKey(ps), g.r.EventTime, state.KeepLatest, adminStateTTL)
	}
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		sev, score := detectors.SeverityHigh, 80
		if level == levelEscalation {
			sev, score = detectors.SeverityMedium, 55
		}
		f := g.finding(sev, score, "", "")
		f.Evidence["target_type"] = "permission-set"
		f.Evidence["permission_set_arn"] = ps
		f.Evidence["policy"] = what
		f.Evidence["grant"] = level.String()
		f.Explanation = fmt.Sprintf("%s gave IAM Identity Center permission set %s %s, which is %s (%s): everyone assigned it "+
			"gets that role in the accounts of the assignment", detectors.Actor(g.r), ps, what, level, why)
		return []detectors.Finding{f}, nil
	})
}

// assignment judges CreateAccountAssignment of a permission set seen
// holding an admin grant.
func (g adminCall) assignment(b *state.Batch) detectors.Evaluation {
	ps := g.p.PermissionSetARN
	if ps == "" || g.r.Failed() {
		return nil
	}
	admin := b.ReadMark(g.permissionSetKey(ps))
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		m, err := admin.Get()
		if err != nil {
			return nil, err
		}
		if !m.Set || m.At.After(g.r.EventTime) {
			return nil, nil // not seen holding an admin grant: no guess
		}
		f := g.finding(detectors.SeverityHigh, 80, "", "")
		f.Evidence["target_type"] = "identity-center-" + g.p.PrincipalType
		f.Evidence["target_name"] = g.p.PrincipalID
		f.Evidence["permission_set_arn"] = ps
		f.Evidence["target_account"] = g.p.TargetID
		f.Evidence["grant"] = levelAdmin.String()
		f.Evidence["permission_set_admin_since"] = m.At.Format(time.RFC3339)
		f.Explanation = fmt.Sprintf("%s assigned IAM Identity Center permission set %s, which holds an administrator-equivalent "+
			"grant (since %s), to %s %s in account %s", detectors.Actor(g.r), ps, m.At.Format(time.RFC3339),
			g.p.PrincipalType, g.p.PrincipalID, g.p.TargetID)
		return []detectors.Finding{f}, nil
	})
}

// grantWords lists a summary's grants briefly, for explanations.
func grantWords(s policy.Summary) string {
	out := ""
	for i, g := range s.Grants {
		if i == 3 {
			return out + ", …"
		}
		if i > 0 {
			out += "; "
		}
		out += g.String()
	}
	return out
}
