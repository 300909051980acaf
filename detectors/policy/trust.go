package policy

import (
	"slices"
	"strings"

	"github.com/iamsentry/iamsentry/internal/wildcard"
)

// publicIdPs are multi-tenant web identity providers: anyone can hold an
// identity there (a Google account, a GitHub repository, a Cognito identity
// pool in any AWS account). A role trusting one is open to all of them
// unless a condition on one of the listed claims (<host>:<claim>) says which
// identities. For GitHub, GitLab and Terraform Cloud only the subject
// scopes: their audience is the same for everyone.
var publicIdPs = map[string][]string{
	"token.actions.githubusercontent.com": {"sub"},
	"gitlab.com":                          {"sub"},
	"app.terraform.io":                    {"sub"},
	"accounts.google.com":                 {"aud", "sub", "oaud"},
	"cognito-identity.amazonaws.com":      {"aud"},
	"graph.facebook.com":                  {"app_id", "id"},
	"www.amazon.com":                      {"app_id", "user_id"},
}

// trustGrants appends what one Allow statement with a principal grants.
func (st *statement) trustGrants(out []Grant, a actions) []Grant {
	assumes := false
	for _, act := range assumeActions {
		if _, ok := a.allows(act); ok {
			assumes = true
			break
		}
	}
	if !assumes {
		return out
	}
	if st.NotPrincipal.set {
		return append(out, st.grant(KindAssumeAnyone, "", "NotPrincipal (everyone but the listed)"))
	}
	p := &st.Principal
	if p.star {
		out = append(out, st.grant(KindAssumeAnyone, "", `Principal "*"`))
	}
	for _, v := range p.aws {
		switch acct, anyone := awsAccount(v); {
		case anyone:
			out = append(out, st.grant(KindAssumeAnyone, "", `AWS "`+v+`"`))
		case acct != "":
			out = append(out, st.grant(KindAssumeAccount, acct, `AWS "`+v+`"`))
		}
		// Anything else is a unique id (AROA…, AIDA…): IAM writes those in
		// place of a principal that was deleted, and nobody can assume as it.
	}
	for _, v := range p.service {
		out = append(out, st.grant(KindAssumeService, strings.ToLower(v), `Service "`+v+`"`))
	}
	for _, v := range p.federated {
		if host, open := st.openFederation(v); open {
			g := Grant{Kind: KindAssumeOpenFederated, Subject: cut(host, maxSubject), Via: cut(`Federated "`+v+`"`, maxVia)}
			out = append(out, g)
			continue
		}
		out = append(out, st.grant(KindAssumeFederated, v, `Federated "`+v+`"`))
	}
	return out
}

// awsAccount reads an AWS principal: a 12-digit account id, or an ARN whose
// account field is one (arn:aws:iam::123456789012:root, …:role/x). anyone
// is true for "*" and for ARNs with a wildcard account.
func awsAccount(v string) (acct string, anyone bool) {
	if v == "*" {
		return "", true
	}
	if isAccountID(v) {
		return v, false
	}
	f := strings.SplitN(v, ":", 6)
	if len(f) < 6 || f[0] != "arn" {
		return "", false
	}
	if wildcard.Has(f[4]) {
		return "", true
	}
	if isAccountID(f[4]) {
		return f[4], false
	}
	return "", false
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// openFederation reports whether provider v is a public identity provider
// (or "*") that the statement does not scope with a condition on one of its
// identifying claims, and the provider's host.
func (st *statement) openFederation(v string) (host string, open bool) {
	host = strings.ToLower(v)
	if _, after, ok := strings.Cut(host, ":oidc-provider/"); ok {
		host = after
	}
	if host == "*" {
		return host, true
	}
	claims, public := publicIdPs[host]
	if !public {
		return host, false // SAML providers, EKS clusters, private IdPs
	}
	for op, byKey := range st.Condition {
		if !positive(op) {
			continue
		}
		like := strings.Contains(strings.ToLower(op), "like")
		for k, vals := range byKey {
			kh, claim, ok := strings.Cut(strings.ToLower(k), ":")
			if !ok || kh != host {
				continue
			}
			// Conditions are ANDed: one operator whose values all name
			// some identities scopes the statement, whatever the others say.
			if slices.Contains(claims, claim) && scopes(vals, like) {
				return host, false
			}
		}
	}
	return host, true
}

// positive reports whether a condition operator limits a key to the values
// it lists (StringEquals, StringLike and their variants), rather than
// excluding them (StringNotEquals) or testing something else.
func positive(op string) bool {
	op = strings.ToLower(op)
	return !strings.Contains(op, "not") &&
		(strings.Contains(op, "stringequals") || strings.Contains(op, "stringlike"))
}

// scopes reports whether condition values name some identities rather
// than all. The values of one key are ORed, so every value must be narrow:
// a list holding "repo:acme/x:*" and "repo:*" admits every repository.
func scopes(vals valList, like bool) bool {
	if len(vals) == 0 {
		return false
	}
	for _, v := range vals {
		if broadValue(v, like) {
			return false
		}
	}
	return true
}

// broadValue reports whether one condition value admits identities of
// anyone: under a Like operator, a value whose literal prefix (before the
// first wildcard) is empty, only a claim type such as "repo:" ("repo:*"
// is every GitHub repository), or stops inside the first name after the
// claim type ("repo:acme*" admits the organisation "acme-evil", which
// anyone can register). Under StringEquals wildcards are literal text.
func broadValue(v string, like bool) bool {
	if !like {
		return v == ""
	}
	i := strings.IndexAny(v, "*?")
	if i < 0 {
		return v == ""
	}
	prefix := v[:i]
	typ, rest, typed := strings.Cut(prefix, ":")
	if !typed || strings.ContainsAny(typ, "/") {
		// No claim type (Google and Cognito audiences, plain ids): the
		// literal prefix must end a name.
		rest = prefix
	}
	return !strings.ContainsAny(rest, "/:")
}
