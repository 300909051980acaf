package policy

import (
	"strings"

	"github.com/iamsentry/iamsentry/internal/wildcard"
)

// Privilege escalation action sets: what lets a principal that holds them
// make itself (or a principal it controls) more privileged. Built from
// Rhino Security Labs, "AWS IAM Privilege Escalation – Methods and
// Mitigations" (Spencer Gietzen, 2018; 21 methods,
// https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/)
// and Bishop Fox iam-vulnerable (Seth Art, 2021; 31 paths,
// https://github.com/BishopFox/iam-vulnerable), which adds the SageMaker,
// CodeBuild, ECS and SSM paths. Each is reported as a KindEscalation grant
// whose Subject names the set, e.g. "iam:CreatePolicyVersion" or
// "iam:PassRole+lambda:CreateFunction".

// escalationAction is one action that escalates on its own, and the IAM
// resource type whose every instance it must cover (or every resource).
type escalationAction struct {
	name     string // as AWS documents it, for the Subject
	resource string // "user", "role", "group", "policy"; "" for non-IAM actions
}

// escalationActions escalate alone: rewrite a policy, attach or put one,
// mint credentials for another user, rewrite a role's trust, or replace the
// code a privileged role runs.
var escalationActions = []escalationAction{
	{"iam:CreatePolicyVersion", "policy"},
	{"iam:SetDefaultPolicyVersion", "policy"},
	{"iam:AttachUserPolicy", "user"},
	{"iam:AttachGroupPolicy", "group"},
	{"iam:AttachRolePolicy", "role"},
	{"iam:PutUserPolicy", "user"},
	{"iam:PutGroupPolicy", "group"},
	{"iam:PutRolePolicy", "role"},
	{"iam:AddUserToGroup", "group"},
	{"iam:CreateAccessKey", "user"},
	{"iam:CreateLoginProfile", "user"},
	{"iam:UpdateLoginProfile", "user"},
	{"iam:UpdateAssumeRolePolicy", "role"},
	{"iam:DeleteUserPermissionsBoundary", "user"},
	{"iam:DeleteRolePermissionsBoundary", "role"},
	{"lambda:UpdateFunctionCode", ""},
	{"glue:UpdateDevEndpoint", ""},
	{"ssm:SendCommand", ""},
	{"ssm:StartSession", ""},
	{"ec2-instance-connect:SendSSHPublicKey", ""},
}

// passRoleActions escalate together with iam:PassRole on any role: they
// start compute that runs as the passed role.
var passRoleActions = []string{
	"lambda:CreateFunction",
	"ec2:RunInstances",
	"glue:CreateDevEndpoint",
	"glue:CreateJob",
	"cloudformation:CreateStack",
	"datapipeline:CreatePipeline",
	"sagemaker:CreateNotebookInstance",
	"sagemaker:CreateTrainingJob",
	"sagemaker:CreateProcessingJob",
	"codebuild:CreateProject",
	"ecs:RunTask",
	"ecs:RegisterTaskDefinition",
	"autoscaling:CreateLaunchConfiguration",
	"ec2:RequestSpotInstances",
}

// escalationGrants appends the escalation sets one Allow statement grants on
// its own, and returns the iam:PassRole partners it grants (combined across
// statements by combinePassRole). Sets implied by what the statement
// already grants (every action, or iam:* on every resource) are left out:
// those grants say it all.
func (st *statement) escalationGrants(out []Grant, a actions, r resources) ([]Grant, []Grant) {
	var partners []Grant
	iamWide := false
	if r.any {
		_, all := a.all()
		_, iamWide = a.service("iam")
		if all || a.not {
			return out, nil // admin, or NotAction: reported as such
		}
	}
	for _, e := range escalationActions {
		if iamWide && strings.HasPrefix(e.name, "iam:") {
			continue
		}
		act, ok := a.allows(strings.ToLower(e.name))
		if !ok {
			continue
		}
		scope, ok := r.covers(st, e.resource)
		if !ok {
			continue
		}
		out = append(out, st.grant(KindEscalation, e.name, via(a, act)+" on "+scope))
	}
	if r.any {
		for _, name := range passRoleActions {
			if act, ok := a.allows(strings.ToLower(name)); ok {
				partners = append(partners, st.grant(KindEscalation, name, via(a, act)+" on "+r.anyT))
			}
		}
	}
	return out, partners
}

// selfGrantActions let a principal give itself any policy.
var selfGrantActions = []string{"iam:attachuserpolicy", "iam:attachrolepolicy", "iam:attachgrouppolicy",
	"iam:putuserpolicy", "iam:putrolepolicy", "iam:putgrouppolicy", "iam:createpolicyversion"}

// selfGrant reports whether the statement allows one of selfGrantActions.
func (a actions) selfGrant() bool {
	for _, act := range selfGrantActions {
		if _, ok := a.allows(act); ok {
			return true
		}
	}
	return false
}

// covers reports whether the statement's resources cover every resource of
// an IAM type (every resource for "" ), and the text that does.
func (r resources) covers(st *statement, typ string) (string, bool) {
	if r.any {
		return r.anyT, true
	}
	if typ == "" || !st.Resource.set {
		return "", false
	}
	if typ == "role" && r.roles {
		return r.rolesT, true
	}
	for _, p := range st.Resource.vals {
		if allOfType(p, typ) {
			return p, true
		}
	}
	return "", false
}

// allOfType reports whether an ARN pattern covers every IAM resource of typ
// in its account: arn:aws:iam::123456789012:user/*.
func allOfType(p, typ string) bool {
	f := strings.SplitN(p, ":", 6)
	return len(f) == 6 && wildcard.Match(f[2], "iam") &&
		wildcard.Match(f[5], typ+"/q") && wildcard.Match(f[5], typ+"/"+longQ+"/"+longQ)
}

// combinePassRole adds "iam:PassRole+<action>" for each partner when the
// document passes any role; the pair is conditional when either half is.
func combinePassRole(s *Summary, partners []Grant) {
	var pass *Grant
	for i := range s.Grants {
		g := &s.Grants[i]
		if g.Kind == KindPassRole && (pass == nil || pass.Conditional && !g.Conditional) {
			pass = g
		}
	}
	if pass == nil {
		return
	}
	for _, p := range partners {
		g := Grant{Kind: KindEscalation, Subject: "iam:PassRole+" + p.Subject,
			Via: cut(pass.Via+" with "+p.Via, maxVia)}
		if pass.Conditional || p.Conditional {
			g.Conditional, g.Conditions = true, cut(strings.Trim(pass.Conditions+","+p.Conditions, ","), maxConditions)
		}
		s.Grants = append(s.Grants, g)
	}
}
