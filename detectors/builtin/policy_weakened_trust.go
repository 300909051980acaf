package builtin

import (
	"fmt"
	"strings"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/policy"
	"github.com/iamsentry/iamsentry/state"
)

// trustChange is what policy-weakened learns about a trust policy change
// beyond its grant summary: whom the new document trusts (its principals
// and federated subjects, remembered per role so the next change reports
// what it adds) and whether the role is privileged (privileged_roles, or
// marked privileged when an admin-equivalent grant was seen on it).
type trustChange struct {
	roleARN string
	next    policy.Trustees
	read    bool // next could be read
	prev    *state.Future[[]byte]
	mark    *state.Future[state.Mark]

	// Resolved by load.
	added      policy.Trustees
	known      bool   // the previous trustees were known (or the role is new)
	privileged string // why the role is privileged; "" when it is not known to be
}

const trusteesName = "trust:trustees"

// queueTrust queues the state a trust change needs: the previous trustees
// of the role (unless it is new), the role's privileged mark, and the new
// trustees in their place.
func (c *change) queueTrust(b *state.Batch) *trustChange {
	var p struct {
		RoleName string `json:"roleName"`
		Path     string `json:"path"`
	}
	_ = c.r.Params(&p) // the caller already read them
	var resp struct {
		Role struct {
			ARN string `json:"arn"`
		} `json:"role"`
	}
	_ = c.r.Response(&resp)
	tc := &trustChange{roleARN: resp.Role.ARN}
	if tc.roleARN == "" {
		tc.roleARN = roleARN(c.r, c.account, p.Path, p.RoleName)
	}
	if next, err := policy.ReadTrust(c.doc); err == nil {
		tc.next, tc.read = next, true
	}
	if !c.isNew {
		tc.prev = b.Get(c.key(trusteesName))
	}
	tc.mark = b.ReadMark(detectors.PrivilegedRoleMark(c.ev, c.account, p.RoleName))
	if tc.read {
		v, _ := tc.next.MarshalBinary() // plain data: cannot fail
		b.Put(c.key(trusteesName), v, c.d.opts.StateTTL)
	}
	return tc
}

// load reads the futures queued by queueTrust.
func (tc *trustChange) load(d *PolicyWeakened) error {
	tc.known = tc.prev == nil
	tc.added = tc.next
	if tc.prev != nil {
		v, err := tc.prev.Get()
		if err != nil {
			return err
		}
		var before policy.Trustees
		if len(v) > 0 && before.UnmarshalBinary(v) == nil {
			tc.added, tc.known = tc.next.Added(before), true
		}
	}
	m, err := tc.mark.Get()
	if err != nil {
		return err
	}
	if pattern, ok := d.settings.PrivilegedRole(tc.roleARN); ok {
		tc.privileged = "matches privileged_roles pattern " + pattern
	} else if m.Set {
		tc.privileged = "an admin-equivalent grant on it was seen " + m.At.UTC().Format("2006-01-02")
	}
	return nil
}

// flags returns the grants of gs worth reporting for this change: those of
// flag, and, on a privileged role, trust to another account of the
// organisation (MEDIUM: a foothold in any account of the organisation
// becomes this role's privileges).
func (c *change) flags(gs []policy.Grant) []flagged {
	out := c.d.flag(gs, c.account)
	if c.trustees == nil || c.trustees.privileged == "" {
		return out
	}
	for _, g := range gs {
		if g.Kind != policy.KindAssumeAccount || g.Subject == c.account || !c.d.settings.OrgAccount(g.Subject, c.account) {
			continue
		}
		fl := flagged{Grant: g, sev: detectors.SeverityMedium,
			why: fmt.Sprintf("account %s is another account of the organisation, and the role is privileged (%s)", g.Subject, c.trustees.privileged)}
		if g.Conditional {
			fl.sev--
		}
		out = append(out, fl)
	}
	return out
}

// trustEvidence adds to f whom the change adds (or, for a new role or an
// unknown previous document, whom it trusts).
func (c *change) trustEvidence(f *detectors.Finding) {
	tc := c.trustees
	if tc == nil || !tc.read {
		return
	}
	prefix := "adds_"
	if c.isNew || !tc.known {
		prefix = "trusts_"
	}
	if len(tc.added.Principals) > 0 {
		f.Evidence[prefix+"principals"] = strings.Join(tc.added.Principals, ", ")
	}
	if len(tc.added.Subjects) > 0 {
		f.Evidence[prefix+"subjects"] = strings.Join(tc.added.Subjects, ", ")
	}
	if tc.privileged != "" {
		f.Evidence["privileged"] = tc.privileged
	}
	// The explanation names what the grant summary does not already say:
	// principals it names by account only, and every subject.
	var untold []string
	for _, v := range append(append([]string(nil), tc.added.Principals...), tc.added.Subjects...) {
		_, bare, _ := strings.Cut(v, ":")
		if !strings.Contains(f.Explanation, bare) {
			untold = append(untold, v)
		}
	}
	if len(untold) > 0 {
		verb := "adds"
		if prefix == "trusts_" {
			verb = "trusts"
		}
		f.Explanation += fmt.Sprintf("; the trust policy %s %s", verb, strings.Join(untold, ", "))
	}
}

// roleARN rebuilds a role's ARN from its account, path and name, in the
// partition of the caller, when CloudTrail recorded no response.
func roleARN(r *cloudtrail.Record, account, path, name string) string {
	return strings.Replace(managedARN(r, account, path, name), ":policy/", ":role/", 1)
}
