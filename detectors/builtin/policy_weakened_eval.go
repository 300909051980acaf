package builtin

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/policy"
	"github.com/iamsentry/iamsentry/internal/wildcard"
	"github.com/iamsentry/iamsentry/state"
)

// remembered is what the detector keeps per policy document: the version id
// (managed policies) and the grant summary, when it could be read. A
// default written by SetDefaultPolicyVersion holds the version id only: the
// store cannot copy the version's summary in the same round trip it reads
// it, so the next change of that policy is judged on its own.
type remembered struct {
	version string
	known   bool
	summary policy.Summary
}

const rememberedFormat = 'w'

func (m remembered) encode() []byte {
	b := []byte{rememberedFormat, 0}
	if m.known {
		b[1] = 1
	}
	b = binary.AppendUvarint(b, uint64(len(m.version)))
	b = append(b, m.version...)
	if m.known {
		b, _ = m.summary.AppendBinary(b) // cannot fail
	}
	return b
}

// decodeRemembered reads a value; ok is false for an absent or unreadable
// value (an older format, or garbage), which is treated as never seen.
func decodeRemembered(b []byte) (m remembered, ok bool) {
	if len(b) < 3 || b[0] != rememberedFormat {
		return m, false
	}
	n, w := binary.Uvarint(b[2:])
	rest := b[2:]
	if w <= 0 || n > uint64(len(rest)-w) {
		return m, false
	}
	m.version, m.known = string(rest[w:w+int(n)]), b[1]&1 != 0
	if m.known && m.summary.UnmarshalBinary(rest[w+int(n):]) != nil {
		return remembered{}, false
	}
	return m, true
}

// validVersion reports whether v looks like an IAM policy version id ("v12"),
// so that attacker-chosen text never becomes a state key.
func validVersion(v string) bool {
	return len(v) >= 2 && len(v) <= 12 && v[0] == 'v' && strings.Trim(v[1:], "0123456789") == ""
}

func (c change) key(name string) state.Key { return c.ev.Key(c.identity, name) }

func (c change) versionKey(v string) state.Key { return c.key("policy:version:" + v) }

// newDocument handles a call carrying a document: it remembers what the
// document grants and, when the document takes effect, judges what it adds
// over the previous effective one.
func (c change) newDocument(b *state.Batch) detectors.Evaluation {
	sum, err := policy.Analyze(c.doc)
	val := remembered{version: c.version, known: err == nil, summary: sum}.encode()
	ttl := c.d.opts.StateTTL
	var prev *state.Future[[]byte]
	if c.identity != "" {
		if c.effect && !c.isNew {
			prev = b.Get(c.key(c.name))
		}
		if c.kind == "managed" && validVersion(c.version) {
			b.Put(c.versionKey(c.version), val, ttl)
		}
		if c.effect {
			b.Put(c.key(c.name), val, ttl)
		}
	}
	if !c.effect {
		return nil // a non-default version grants nothing until SetDefaultPolicyVersion
	}
	if c.kind == "trust" && c.identity != "" {
		c.trustees = c.queueTrust(b)
	}
	if err != nil {
		return detectors.EvaluationFunc(func() ([]detectors.Finding, error) { return c.unreadable(err), nil })
	}
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		var before remembered
		if prev != nil {
			v, err := prev.Get()
			if err != nil {
				return nil, err
			}
			before, _ = decodeRemembered(v)
		}
		if c.trustees != nil {
			if err := c.trustees.load(c.d); err != nil {
				return nil, err
			}
		}
		return c.judge(sum, before), nil
	})
}

// setDefault handles SetDefaultPolicyVersion: the named version, created
// earlier, becomes effective.
func (c change) setDefault(b *state.Batch) detectors.Evaluation {
	if !validVersion(c.version) {
		return nil
	}
	target, def := b.Get(c.versionKey(c.version)), b.Get(c.key(c.name))
	b.Put(c.key(c.name), remembered{version: c.version}.encode(), c.d.opts.StateTTL)
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		tv, err := target.Get()
		if err != nil {
			return nil, err
		}
		dv, err := def.Get()
		if err != nil {
			return nil, err
		}
		next, seen := decodeRemembered(tv)
		before, _ := decodeRemembered(dv)
		switch {
		case before.version == c.version:
			return nil, nil // already the default
		case !seen || !next.known:
			return c.unseen(seen), nil
		}
		return c.judge(next.summary, before), nil
	})
}

// failed handles a call that failed: it changed nothing, so nothing is
// remembered; a denied attempt to grant something risky is LOW.
func (c change) failed() detectors.Evaluation {
	if !c.d.opts.ReportDenied || !c.r.Denied() || c.r.EventName == "SetDefaultPolicyVersion" {
		return nil
	}
	sum, err := policy.Analyze(c.doc)
	if err != nil {
		return nil
	}
	flags := c.flags(sum.Grants)
	if len(flags) == 0 {
		return nil
	}
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		f := c.finding(detectors.SeverityLow, 30, flags, "grants")
		f.Evidence["error_code"] = c.r.ErrorCode
		f.Explanation = fmt.Sprintf("%s tried to %s, which would grant %s; the call failed with %s",
			c.who(), c.verb(false), words(flags, ""), c.r.ErrorCode)
		return []detectors.Finding{f}, nil
	})
}

// flagged is one grant the detector reports, with its severity and the
// configuration that made it so.
type flagged struct {
	policy.Grant
	sev     detectors.Severity
	why     string
	dropped bool // the grant existed before, only under a Condition
}

// flag returns the grants of gs worth reporting, in order.
func (d *PolicyWeakened) flag(gs []policy.Grant, account string) []flagged {
	var out []flagged
	for _, g := range gs {
		fl := flagged{Grant: g, sev: detectors.SeverityHigh}
		switch g.Kind {
		case policy.KindAdmin:
			fl.sev = detectors.SeverityCritical
		case policy.KindPassRole, policy.KindNotAction, policy.KindServiceWide,
			policy.KindAssumeAnyone, policy.KindAssumeOpenFederated:
		case policy.KindEscalation:
			fl.why = "privilege escalation path"
		case policy.KindPassRoleTo:
			p, ok := d.privilegedTarget(g.Subject)
			if !ok {
				continue
			}
			fl.why = "role matches privileged_roles " + p
		case policy.KindAssumeAccount:
			if d.settings.OrgAccount(g.Subject, account) || slices.Contains(d.opts.TrustedAccounts, g.Subject) {
				continue
			}
			fl.why = d.outside(g.Subject, account)
		default: // service principals, scoped or private federation
			continue
		}
		if g.Conditional {
			fl.sev--
		}
		out = append(out, fl)
	}
	return subsume(out)
}

// privilegedTarget reports whether a PassRole resource (an ARN or pattern)
// reaches a role of privileged_roles: it matches a pattern, or covers one.
func (d *PolicyWeakened) privilegedTarget(res string) (string, bool) {
	if p, ok := d.settings.PrivilegedRole(res); ok {
		return p, true
	}
	for _, p := range d.settings.PrivilegedRoles {
		if wildcard.Match(res, p) {
			return p, true
		}
	}
	return "", false
}

// subsume drops the grants an admin grant implies (PassRole, the service
// wildcards and escalation paths, under the same or a stricter condition):
// "Action * on Resource *" says it all.
func subsume(fls []flagged) []flagged {
	i := slices.IndexFunc(fls, func(fl flagged) bool { return fl.Kind == policy.KindAdmin })
	if i < 0 {
		return fls
	}
	admin := fls[i]
	return slices.DeleteFunc(fls, func(fl flagged) bool {
		implied := fl.Kind == policy.KindPassRole || fl.Kind == policy.KindServiceWide ||
			fl.Kind == policy.KindEscalation || fl.Kind == policy.KindPassRoleTo
		return implied && (!admin.Conditional || fl.Conditional) && fl.dropped == admin.dropped
	})
}

// outside says which configuration makes account foreign.
func (d *PolicyWeakened) outside(acct, eventAccount string) string {
	if len(d.settings.Accounts) == 0 {
		return fmt.Sprintf("account %s is not the event's account %s, and no accounts are configured", acct, eventAccount)
	}
	return fmt.Sprintf("account %s is not in accounts nor in trusted_accounts", acct)
}
