package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/iamsentry/iamsentry/internal/wildcard"
)

// SensitiveServices are the services whose every action on every resource
// is a KindServiceWide grant: each is a path to administrator on its own.
var SensitiveServices = []string{"iam", "organizations", "sts"}

// Analyze reads one IAM policy document and sums up what it grants.
//
// raw is the JSON value of a requestParameters field as CloudTrail records
// it: a JSON string holding the document (sometimes URL-encoded,
// "%7B%22Version%22…"), or the document itself as a JSON object. Statement
// may be one object or a list; Action, NotAction, Resource, NotResource and
// principal values may each be a string or a list; Effect is matched without
// regard to case, as are element names and actions; ARNs are matched with
// case.
//
// A statement with a Principal or NotPrincipal is read as a trust policy
// statement and summed up only when it allows sts:AssumeRole,
// sts:AssumeRoleWithWebIdentity or sts:AssumeRoleWithSAML; other statements
// are read as identity policy statements.
//
// An error wraps ErrMalformed and names the statement and element at fault.
func Analyze(raw []byte) (Summary, error) {
	sts, single, err := decode(raw)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{Statements: len(sts)}
	var partners []Grant
	for i := range sts {
		st := &sts[i]
		allow, err := st.validate()
		if err != nil {
			if single {
				return Summary{}, malformed("Statement: %v", err)
			}
			return Summary{}, malformed("Statement %d: %v", i+1, err)
		}
		if allow {
			var p []Grant
			s.Grants, p = st.grants(s.Grants)
			partners = append(partners, p...)
		}
	}
	combinePassRole(&s, partners)
	s.normalize()
	return s, nil
}

// validate checks what IAM itself requires of a statement and reports
// whether it is an Allow.
func (st *statement) validate() (allow bool, err error) {
	switch {
	case st.Effect == "":
		return false, errors.New("Effect is missing")
	case strings.EqualFold(st.Effect, "Allow"):
		allow = true
	case strings.EqualFold(st.Effect, "Deny"):
	default:
		return false, fmt.Errorf("Effect %q is neither Allow nor Deny", cut(st.Effect, 40))
	}
	switch {
	case st.Action.set && st.NotAction.set:
		return false, errors.New("has both Action and NotAction")
	case !st.Action.set && !st.NotAction.set:
		return false, errors.New("has neither Action nor NotAction")
	case st.Resource.set && st.NotResource.set:
		return false, errors.New("has both Resource and NotResource")
	case st.Principal.set && st.NotPrincipal.set:
		return false, errors.New("has both Principal and NotPrincipal")
	}
	return allow, nil
}

// Probes. An action pattern that matches both actionProbes consists of
// wildcards (and a colon) only, so it matches every action; likewise a
// resource pattern matching both resourceProbes matches every ARN. longQ
// stands for "any longer name".
const longQ = "qqqqqqqqqqqqqqqq"

var (
	actionProbes   = [2]string{"a:b", longQ + ":" + longQ}
	resourceProbes = [2]string{"arn:aws:s3:::a", "arn:aws-cn:iam::999999999999:role/" + longQ + "/" + longQ}
	roleProbes     = [2]string{"arn:aws:iam::999999999999:role/q", "arn:aws:iam::999999999999:role/" + longQ + "/" + longQ}
	assumeActions  = [...]string{"sts:assumerole", "sts:assumerolewithwebidentity", "sts:assumerolewithsaml"}
)

// actions matches actions against a statement's Action or NotAction.
type actions struct {
	orig  []string
	lower []string // orig in lower case, as IAM compares actions
	not   bool
}

func newActions(st *statement) actions {
	a := actions{orig: st.Action.vals}
	if st.NotAction.set {
		a = actions{orig: st.NotAction.vals, not: true}
	}
	a.lower = make([]string, len(a.orig))
	for i, p := range a.orig {
		a.lower[i] = strings.ToLower(p)
	}
	return a
}

// matching returns the index of the first pattern matching every probe,
// or -1.
func matching(pats []string, probes ...string) int {
	return slices.IndexFunc(pats, func(p string) bool {
		for _, pr := range probes {
			if !wildcard.Match(p, pr) {
				return false
			}
		}
		return true
	})
}

// allows reports whether the statement allows action (lower case), and
// the pattern that does when it is an Action.
func (a actions) allows(action string) (string, bool) {
	i := matching(a.lower, action)
	if a.not {
		return "", i < 0
	}
	if i < 0 {
		return "", false
	}
	return a.orig[i], true
}

// all reports whether the statement's Action allows every action.
func (a actions) all() (string, bool) {
	if a.not {
		return "", false
	}
	if i := matching(a.lower, actionProbes[:]...); i >= 0 {
		return a.orig[i], true
	}
	return "", false
}

// service reports whether the statement allows every action of svc.
func (a actions) service(svc string) (string, bool) {
	if !a.not {
		if i := matching(a.lower, svc+":a", svc+":"+longQ); i >= 0 {
			return a.orig[i], true
		}
		return "", false
	}
	// NotAction grants a whole service unless a pattern may exclude some of
	// its actions: one whose service part matches svc.
	for _, p := range a.lower {
		sp, _, colon := strings.Cut(p, ":")
		if wildcard.Match(sp, svc) || !colon && wildcard.Match(p, svc+":a") {
			return "", false
		}
	}
	return "", true
}

func (a actions) notText() string {
	return "NotAction " + strings.Join(a.orig, ",")
}

// resources is a statement's Resource or NotResource scope.
type resources struct {
	any, roles   bool   // every resource; every IAM role
	anyT, rolesT string // the text granting them, for Via
}

func newResources(st *statement) resources {
	var r resources
	switch {
	case st.Resource.set:
		if i := slices.IndexFunc(st.Resource.vals, anyResource); i >= 0 {
			r.any, r.anyT = true, st.Resource.vals[i]
			r.roles, r.rolesT = true, r.anyT
		} else if i := slices.IndexFunc(st.Resource.vals, allRoles); i >= 0 {
			r.roles, r.rolesT = true, st.Resource.vals[i]
		}
	case st.NotResource.set:
		// Everything except the listed resources: every resource unless a
		// listed pattern is itself that wide.
		text := "NotResource " + strings.Join(st.NotResource.vals, ",")
		if matching(st.NotResource.vals, resourceProbes[:]...) < 0 {
			r.any, r.anyT = true, text
		}
		if matching(st.NotResource.vals, roleProbes[0]) < 0 && matching(st.NotResource.vals, roleProbes[1]) < 0 {
			r.roles, r.rolesT = true, text
		}
	}
	return r
}

// partitions are the AWS partitions, for patterns that cover every ARN of
// one (arn:aws:*:*:*:*): as wide as "*" for an account that lives there.
var partitions = [...]string{"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"}

// anyResource reports whether an ARN pattern covers every resource, in
// every partition or in one.
func anyResource(p string) bool {
	if matching([]string{p}, resourceProbes[:]...) == 0 {
		return true
	}
	for _, part := range partitions {
		if wildcard.Match(p, "arn:"+part+":s3:::a") &&
			wildcard.Match(p, "arn:"+part+":iam::999999999999:role/"+longQ+"/"+longQ) &&
			wildcard.Match(p, "arn:"+part+":ec2:us-east-1:999999999999:instance/i-0") {
			return true
		}
	}
	return false
}

// allRoles reports whether an ARN pattern covers every role name, in any
// account: arn:aws:iam::123456789012:role/*, arn:aws:iam::*:*.
func allRoles(p string) bool {
	if matching([]string{p}, roleProbes[:]...) == 0 {
		return true
	}
	f := strings.SplitN(p, ":", 6)
	return len(f) == 6 && wildcard.Match(f[2], "iam") &&
		wildcard.Match(f[5], "role/q") && wildcard.Match(f[5], "role/"+longQ+"/"+longQ)
}

// grants appends what one Allow statement grants to out, and returns the
// actions it grants that escalate together with iam:PassRole.
func (st *statement) grants(out []Grant) ([]Grant, []Grant) {
	a := newActions(st)
	if st.Principal.set || st.NotPrincipal.set {
		return st.trustGrants(out, a), nil
	}
	r := newResources(st)
	add := func(k Kind, subject, via string) {
		out = append(out, st.grant(k, subject, via))
	}
	if r.any {
		if act, ok := a.all(); ok {
			add(KindAdmin, "", act+" on "+r.anyT)
		}
		if a.not {
			add(KindNotAction, "", a.notText()+" on "+r.anyT)
			if a.selfGrant() {
				// Everything but a few actions, a way to grant oneself
				// policies included: whoever holds it can take the rest.
				add(KindAdmin, "", a.notText()+" on "+r.anyT)
			}
		}
		for _, svc := range SensitiveServices {
			if act, ok := a.service(svc); ok {
				add(KindServiceWide, svc, via(a, act)+" on "+r.anyT)
			}
		}
	}
	if act, ok := a.allows("iam:passrole"); ok {
		if r.roles {
			add(KindPassRole, "", via(a, act)+" on "+r.rolesT)
		} else if !a.not {
			for _, res := range st.Resource.vals {
				if strings.Contains(res, ":role/") {
					add(KindPassRoleTo, res, act+" on "+res)
				}
			}
		}
	}
	return st.escalationGrants(out, a, r)
}

func via(a actions, act string) string {
	if a.not {
		return a.notText()
	}
	return act
}

// grant builds a grant of this statement, conditional when it has a
// Condition.
func (st *statement) grant(k Kind, subject, via string) Grant {
	g := Grant{Kind: k, Subject: cut(subject, maxSubject), Via: cut(via, maxVia)}
	if keys := st.conditionKeys(); keys != "" {
		g.Conditional, g.Conditions = true, keys
	}
	return g
}

// conditionKeys returns the statement's condition keys, sorted, unique and
// comma separated; "" when it has no condition, or only conditions that
// hold for every request (alwaysTrue).
func (st *statement) conditionKeys() string {
	var keys []string
	for op, byKey := range st.Condition {
		for k, vals := range byKey {
			if !alwaysTrue(op, k, vals) {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	return cut(strings.Join(slices.Compact(keys), ","), maxConditions)
}
