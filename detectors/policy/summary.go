// Package policy reads IAM policy documents as they arrive in CloudTrail
// requestParameters and sums up the risky things they grant, in a compact,
// comparable form a detector can keep in state and diff against the next
// version of the same policy.
//
// It exists on its own because a policy document is attacker-written input:
// the package is fuzzed, never panics, bounds its work by the size of its
// input, and returns a precise error (wrapping ErrMalformed) for anything it
// cannot read.
//
// A Summary holds only Allow statements: a Deny never weakens a policy, and
// the analyzer does not subtract Deny statements from Allow statements
// either, so it may over-state what a document grants but never under-states
// it. Only grants a SOC cares about are summed up (see Kind); two documents
// with equal summaries may still differ in what else they allow.
package policy

import (
	"cmp"
	"slices"
	"strings"
)

// Kind is a class of risky grant.
type Kind uint8

// Kinds, in the order a Summary lists them. Identity-policy kinds come
// first, then trust-policy kinds (statements with a Principal that allow
// sts:AssumeRole, sts:AssumeRoleWithWebIdentity or sts:AssumeRoleWithSAML),
// then KindEscalation, added later: kinds are stored by number, so new
// ones go last.
const (
	// KindAdmin is Allow of every action ("*", "*:*") on every resource.
	KindAdmin Kind = iota + 1
	// KindPassRole is iam:PassRole (matched case-insensitively, through
	// wildcards such as iam:Pass*, iam:* or *) on any role: Resource "*" or
	// a pattern ending in ":role/*".
	KindPassRole
	// KindNotAction is Allow with NotAction on every resource: everything
	// except a list of actions.
	KindNotAction
	// KindServiceWide is every action of a sensitive service (Subject: iam,
	// sts or organizations) on every resource.
	KindServiceWide
	// KindAssumeAnyone lets any AWS principal assume the role: Principal
	// "*", {"AWS": "*"}, an ARN with a wildcard account, or NotPrincipal.
	KindAssumeAnyone
	// KindAssumeAccount lets principals of one AWS account (Subject: the
	// 12-digit account id) assume the role.
	KindAssumeAccount
	// KindAssumeOpenFederated lets web identities of a public, multi-tenant
	// identity provider (Subject: its host, e.g.
	// token.actions.githubusercontent.com) assume the role without a
	// condition that names which of its identities: anyone with an account
	// there can then assume it.
	KindAssumeOpenFederated
	// KindAssumeFederated lets identities of a SAML or OIDC provider
	// (Subject: the provider as written) assume the role, scoped by a
	// condition or through a private provider.
	KindAssumeFederated
	// KindAssumeService lets an AWS service (Subject: the service
	// principal) assume the role.
	KindAssumeService
	// KindEscalation is a privilege escalation action set (Subject: the
	// set, e.g. "iam:CreatePolicyVersion" or
	// "iam:PassRole+lambda:CreateFunction"; see escalation.go) on every
	// resource it acts on. A document granting every action, or iam:* on
	// every resource, has none: its admin and service-wildcard grants imply
	// them.
	KindEscalation
	// KindPassRoleTo is iam:PassRole on a named role or role pattern
	// narrower than every role (Subject: the Resource as written), so a
	// detector can tell whether it reaches a privileged role.
	KindPassRoleTo

	kindLimit // one past the last kind
)

var kindNames = [...]string{"", "admin", "pass-role", "not-action", "service-wildcard",
	"assume-anyone", "assume-account", "assume-open-federated", "assume-federated", "assume-service", "escalation", "pass-role-to"}

// String returns the kind's kebab-case name.
func (k Kind) String() string {
	if k == 0 || k >= kindLimit {
		return "unknown"
	}
	return kindNames[k]
}

// Limits on a Summary, so that its encoding stays small however large the
// document: grants beyond MaxGrants are dropped (Truncated is set), and
// strings are cut to these lengths.
const (
	MaxGrants     = 64
	maxSubject    = 256
	maxVia        = 160
	maxConditions = 160
)

// Grant is one risky thing a document grants.
type Grant struct {
	Kind Kind
	// Subject says what the grant is about, for kinds that have one: the
	// service of KindServiceWide, the account of KindAssumeAccount, the
	// provider of the federated kinds, the service principal of
	// KindAssumeService. It is "" for the other kinds.
	Subject string
	// Conditional is true when every statement granting it has a
	// Condition: weaker evidence, since the condition may be what makes it
	// safe (aws:PrincipalOrgID, sts:ExternalId).
	Conditional bool
	// Conditions lists the condition keys of such a statement, comma
	// separated, for explanations; "" when not Conditional.
	Conditions string
	// Via is the policy text that grants it, e.g. `iam:Pass* on *`, for
	// explanations. It is not compared.
	Via string
}

// Summary is what a policy document grants that a detector cares about.
// Grants are sorted by Kind then Subject, one per (Kind, Subject). The zero
// Summary grants nothing.
type Summary struct {
	Grants     []Grant
	Statements int  // statements in the document, Allow and Deny
	Truncated  bool // more than MaxGrants grants were found; the rest were dropped
}

// Find returns the grant of kind k about subject, if s has it.
func (s Summary) Find(k Kind, subject string) (Grant, bool) {
	i, ok := slices.BinarySearchFunc(s.Grants, key{k, subject}, compareKey)
	if !ok {
		return Grant{}, false
	}
	return s.Grants[i], true
}

// Has reports whether s has a grant of kind k, about any subject.
func (s Summary) Has(k Kind) bool {
	return slices.ContainsFunc(s.Grants, func(g Grant) bool { return g.Kind == k })
}

// Equal reports whether a and b grant the same things under the same
// conditionality (Via and the condition keys are not compared).
func (s Summary) Equal(o Summary) bool {
	return len(s.Grants) == len(o.Grants) && !Diff(s, o).Broader() && !Diff(o, s).Broader()
}

type key struct {
	kind    Kind
	subject string
}

func compareKey(g Grant, k key) int {
	return cmp.Or(cmp.Compare(g.Kind, k.kind), strings.Compare(g.Subject, k.subject))
}

func compareGrants(a, b Grant) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), strings.Compare(a.Subject, b.Subject))
}

// normalize sorts grants and merges those of one (Kind, Subject): the
// merged grant is unconditional when any of them is.
func (s *Summary) normalize() {
	slices.SortStableFunc(s.Grants, func(a, b Grant) int {
		return cmp.Or(compareGrants(a, b), cmpBool(a.Conditional, b.Conditional))
	})
	s.Grants = slices.CompactFunc(s.Grants, func(a, b Grant) bool { return compareGrants(a, b) == 0 })
	if len(s.Grants) > MaxGrants {
		s.Grants, s.Truncated = s.Grants[:MaxGrants:MaxGrants], true
	}
}

// cmpBool orders false first, so an unconditional grant wins a merge.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary so explanations stay valid UTF-8, leaving room
	// for the ellipsis: the result is at most n bytes.
	i := n - len("…")
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}
