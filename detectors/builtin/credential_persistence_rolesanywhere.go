package builtin

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// IAM Roles Anywhere hands out role sessions to whoever holds a certificate
// a trust anchor accepts: a trust anchor on an attacker's CA plus a profile
// naming a role is a credential that no IAM key rotation revokes. Anchors
// and profiles pair per account and region, the scope they work in.

// maxProfileRoles bounds the roles of one profile the detector reads marks
// for (a profile names up to 250).
const maxProfileRoles = 8

func rolesAnywhereKey(ev *detectors.Event, name string) state.Key {
	return ev.Key("rolesanywhere:"+eventAccount(ev.Record)+":"+ev.Record.AWSRegion, name)
}

// trustAnchor judges a new or changed trust anchor: MEDIUM, HIGH when a
// profile for a privileged role was created within the pair window.
func (d *CredentialPersistence) trustAnchor(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	var p struct {
		Name   string `json:"name"`
		Source struct {
			SourceType string `json:"sourceType"`
		} `json:"source"`
	}
	_ = r.Params(&p)
	var resp struct {
		TrustAnchor struct {
			ARN string `json:"trustAnchorArn"`
		} `json:"trustAnchor"`
	}
	_ = r.Response(&resp)
	privileged := b.ReadMark(rolesAnywhereKey(ev, "privileged-profile"))
	b.Mark(rolesAnywhereKey(ev, "anchor"), r.EventTime, state.KeepLatest, d.markTTL())
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		m, err := privileged.Get()
		if err != nil {
			return nil, err
		}
		what := fmt.Sprintf("IAM Roles Anywhere trust anchor %q in %s", cmp.Or(p.Name, "(not recorded)"), r.AWSRegion)
		sev, why := detectors.SeverityMedium, "whoever holds a certificate of its CA can obtain role sessions "+
			"through any profile, without an IAM key; HIGH with a profile for a privileged role within "+detectors.Days(d.opts.PairWindow)
		if d.near(m, r.EventTime) {
			sev, why = detectors.SeverityHigh, fmt.Sprintf("a profile for a privileged role was created in the same "+
				"account and region at %s: a certificate of this CA now yields that role's privileges", m.At.UTC().Format(time.RFC3339))
		}
		f := d.finding(r, sev, what, why)
		f.Evidence["trust_anchor"] = cmp.Or(resp.TrustAnchor.ARN, p.Name)
		if p.Source.SourceType != "" {
			f.Evidence["source_type"] = p.Source.SourceType
		}
		return []detectors.Finding{f}, nil
	})
}

// rolesAnywhereProfile judges a profile naming roles: HIGH for a
// privileged role (privileged_roles, or marked privileged) with a trust
// anchor created within the pair window; MEDIUM for a privileged role
// alone or any role with a fresh anchor; LOW otherwise (self_service).
func (d *CredentialPersistence) rolesAnywhereProfile(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	var p struct {
		Name     string   `json:"name"`
		RoleARNs []string `json:"roleArns"`
	}
	if r.Params(&p) != nil || len(p.RoleARNs) == 0 {
		return nil // an update that changes no role
	}
	roles := p.RoleARNs[:min(len(p.RoleARNs), maxProfileRoles)]
	account := eventAccount(r)
	var byPattern []string
	marks := make([]*state.Future[state.Mark], len(roles))
	for i, arn := range roles {
		if pattern, ok := d.settings.PrivilegedRole(arn); ok {
			byPattern = append(byPattern, arn+" (privileged_roles "+pattern+")")
		}
		marks[i] = b.ReadMark(detectors.PrivilegedRoleMark(ev, account, detectors.RoleNameFromARN(arn)))
	}
	anchor := b.ReadMark(rolesAnywhereKey(ev, "anchor"))
	if len(byPattern) > 0 {
		b.Mark(rolesAnywhereKey(ev, "privileged-profile"), r.EventTime, state.KeepLatest, d.markTTL())
	}
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		privileged := byPattern
		for i, fut := range marks {
			m, err := fut.Get()
			if err != nil {
				return nil, err
			}
			if m.Set && len(byPattern) == 0 {
				privileged = append(privileged, roles[i]+" (an admin-equivalent grant was seen on it)")
			}
		}
		a, err := anchor.Get()
		if err != nil {
			return nil, err
		}
		fresh := d.near(a, r.EventTime)
		what := fmt.Sprintf("IAM Roles Anywhere profile %q for %s", cmp.Or(p.Name, "(not recorded)"), strings.Join(roles, ", "))
		var sev detectors.Severity
		var why string
		switch {
		case len(privileged) > 0 && fresh:
			sev, why = detectors.SeverityHigh, "a trust anchor was created in the same account and region at "+
				a.At.UTC().Format(time.RFC3339)+", and the profile names privileged "+strings.Join(privileged, ", ")
		case len(privileged) > 0:
			sev, why = detectors.SeverityMedium, "any certificate an existing trust anchor accepts now yields privileged "+strings.Join(privileged, ", ")
		case fresh:
			sev, why = detectors.SeverityMedium, "with the trust anchor created at "+a.At.UTC().Format(time.RFC3339)+
				" it completes a certificate-based way into these roles"
		case d.opts.SelfService:
			sev, why = detectors.SeverityLow, "a certificate-based way into these roles"
		default:
			return nil, nil
		}
		f := d.finding(r, sev, what, why)
		f.Evidence["roles"] = strings.Join(roles, ", ")
		if len(privileged) > 0 {
			f.Evidence["privileged"] = strings.Join(privileged, ", ")
			if len(byPattern) == 0 {
				// Privileged by mark only: leave the pairing mark now, so a
				// trust anchor scored later still pairs with this profile.
				f.Marks = append(f.Marks, detectors.SetMark{Key: rolesAnywhereKey(ev, "privileged-profile"),
					At: r.EventTime, Keep: state.KeepLatest, TTL: d.markTTL()})
			}
		}
		return []detectors.Finding{f}, nil
	})
}
