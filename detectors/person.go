package detectors

import (
	"strings"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

// HumanSession reports whether r was made with a person's session rather
// than a workload's: IAM Identity Center permission-set roles, console
// sessions, SAML and web-identity federated users, role sessions named
// by an e-mail address (how SAML identity providers name them), Cognito
// identities, and an IAM user's MFA-authenticated session token.
//
// Detectors that learn a person's habits (networks, probes) key them by
// Person, not by the role people share; detectors of workload credentials
// leave these sessions alone.
func HumanSession(r *cloudtrail.Record) bool {
	u := &r.UserIdentity
	if r.SessionCredentialFromConsole || u.Type == "SAMLUser" || u.Type == "WebIdentityUser" || u.Type == "IdentityCenterUser" {
		return true
	}
	if IdentityCenterRole(u.SessionIssuer.ARN) {
		return true
	}
	if u.Type == "IAMUser" && u.MFAAuthenticated {
		return true
	}
	name := RoleSessionName(r)
	return strings.Contains(name, "@") || name == "CognitoIdentityCredentials"
}

// HumanSession is HumanSession(ev.Record), worked out once per event:
// new-location and workload-credentials ask for most records, and each
// answer cost some 470 instructions (the session issuer's and the
// session's names found from the ARNs' tails).
func (ev *Event) HumanSession() bool {
	if ev.human == 0 {
		ev.human = humanNo
		if HumanSession(ev.Record) {
			ev.human = humanYes
		}
	}
	return ev.human == humanYes
}

// Event.human's values once worked out.
const (
	humanNo uint8 = 1 + iota
	humanYes
)

// RoleSessionName is the role session name of an assumed-role session, ""
// for any other caller.
func RoleSessionName(r *cloudtrail.Record) string {
	u := &r.UserIdentity
	if u.Type != "AssumedRole" {
		return ""
	}
	if i := strings.LastIndexByte(u.ARN, '/'); i >= 0 {
		return u.ARN[i+1:]
	}
	if _, after, ok := strings.Cut(u.PrincipalID, ":"); ok {
		return after
	}
	return ""
}

// HabitPrincipal names whose habits a call shows: the stable principal
// (cloudtrail.Record.StablePrincipal), except for a person's session of a
// role people share, which is the role and the person: its source
// identity (which the session cannot change) or, for an IAM Identity
// Center or SAML session, its session name (the user). One person's home
// network or first identity probe says nothing about another's.
func HabitPrincipal(r *cloudtrail.Record) string {
	return (&Event{Record: r}).HabitPrincipal()
}

// HabitPrincipal is HabitPrincipal(ev.Record), asking ev.HumanSession.
func (ev *Event) HabitPrincipal() string {
	r := ev.Record
	p := r.StablePrincipal()
	if p == "" || r.UserIdentity.Type != "AssumedRole" {
		return p
	}
	if s := r.UserIdentity.SourceIdentity; s != "" {
		return p + "/source:" + s
	}
	if ev.HumanSession() {
		if name := RoleSessionName(r); name != "" {
			return p + "/person:" + name
		}
	}
	return p
}
