package builtin

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// AdminPolicyAttachedID is the stable id of the admin-policy-attached detector.
const AdminPolicyAttachedID = "admin-policy-attached"

// adminFreshWindow is how close in event time the creation of a target and
// its admin grant must be for the grant to be CRITICAL: a principal created
// and made admin within a day is the classic persistence move.
const adminFreshWindow = 24 * time.Hour

// adminStateTTL is how long what a policy, group or permission set grants
// is remembered after it was last written: a quarter, as policy-weakened.
const adminStateTTL = 90 * 24 * time.Hour

// AdminPolicyAttached raises a finding when an IAM identity is given
// administrator-equivalent or escalation-capable permissions, judged by what
// is granted, whatever the path:
//
//   - Attach{User,Role,Group}Policy of an AWS managed policy of awsManaged,
//     or of a customer managed policy whose default version the detector
//     saw grant it (it remembers, per policy ARN, the level of each version
//     and which version is default, from CreatePolicy, CreatePolicyVersion
//     and SetDefaultPolicyVersion);
//   - AddUserToGroup into a group holding an admin-equivalent grant (it
//     remembers group grants from AttachGroupPolicy and PutGroupPolicy);
//   - IAM Identity Center: an admin policy attached to or put in a
//     permission set, and CreateAccountAssignment of such a permission set;
//   - DeleteUserPermissionsBoundary / DeleteRolePermissionsBoundary, and
//     detaching an AWSCompromisedKeyQuarantine policy.
//
// Admin-equivalent is HIGH, CRITICAL when the target was created within 24
// hours of event time before the grant, in either arrival order: the later
// of the two records raises the CRITICAL. Escalation-capable is MEDIUM; a
// failed admin attempt is MEDIUM; boundary deletion and quarantine removal
// are HIGH. A customer policy, group or permission set the detector never
// saw granting anything raises nothing: it does not guess.
type AdminPolicyAttached struct {
	info detectors.Info
}

// NewAdminPolicyAttached returns the detector. It takes no options.
func NewAdminPolicyAttached(detectors.Config) (detectors.Detector, error) {
	return &AdminPolicyAttached{info: detectors.Info{
		ID:    AdminPolicyAttachedID,
		Title: "Administrator-equivalent access granted",
		Description: "An IAM user, role or group, or an IAM Identity Center permission set, was given administrator-" +
			"equivalent permissions (AdministratorAccess, IAMFullAccess, PowerUserAccess, a customer policy whose " +
			"default version grants *, iam:* or a NotAction leaving self-grant, membership of a group holding one, " +
			"an Identity Center assignment of such a permission set): HIGH, CRITICAL when the target was created " +
			"within 24 hours before, whichever record arrives first. Escalation-capable policies (job-function " +
			"policies, PassRole with compute) are MEDIUM, a failed admin attempt MEDIUM; deleting a permissions " +
			"boundary or detaching an AWSCompromisedKeyQuarantine policy is HIGH.",
		Severity:   detectors.SeverityHigh,
		Techniques: []string{"T1098"},
	}}, nil
}

// Info implements Detector.
func (d *AdminPolicyAttached) Info() detectors.Info { return d.info }

// grantParams are the request parameters of the calls the detector reads.
type grantParams struct {
	UserName         string          `json:"userName"`
	RoleName         string          `json:"roleName"`
	GroupName        string          `json:"groupName"`
	PolicyARN        string          `json:"policyArn"`
	PolicyName       string          `json:"policyName"`
	Path             string          `json:"path"`
	PolicyDocument   json.RawMessage `json:"policyDocument"`
	VersionID        string          `json:"versionId"`
	SetAsDefault     json.RawMessage `json:"setAsDefault"`
	PermissionSetARN string          `json:"permissionSetArn"`
	ManagedPolicyARN string          `json:"managedPolicyArn"`
	InlinePolicy     json.RawMessage `json:"inlinePolicy"`
	TargetID         string          `json:"targetId"`
	PrincipalType    string          `json:"principalType"`
	PrincipalID      string          `json:"principalId"`
}

// target returns the IAM entity a call names.
func (p *grantParams) target() (kind, name string) {
	return iamTarget(p.UserName, p.RoleName, p.GroupName)
}

// Interests implements detectors.Selective: the calls of iamGrantEvents
// and ssoGrantEvents, which Observe looks up.
func (d *AdminPolicyAttached) Interests() []detectors.Call {
	return append(callsOf("iam.amazonaws.com", iamGrantEvents), callsOf("sso.amazonaws.com", ssoGrantEvents)...)
}

// Observe implements Detector.
func (d *AdminPolicyAttached) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	switch r.EventSource {
	case "iam.amazonaws.com":
		if !iamGrantEvents[r.EventName] {
			return nil
		}
	case "sso.amazonaws.com":
		if !ssoGrantEvents[r.EventName] {
			return nil
		}
	default:
		return nil
	}
	var p grantParams
	if err := r.Params(&p); err != nil {
		return nil // requestParameters of an unexpected shape: nothing to read
	}
	g := adminCall{d: d, ev: ev, r: r, p: &p, account: accountOf(r)}
	switch r.EventName {
	case "CreateUser", "CreateRole", "CreateGroup":
		return g.creation(b)
	case "AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy":
		return g.attach(b)
	case "DetachUserPolicy", "DetachRolePolicy", "DetachGroupPolicy":
		return g.detach()
	case "PutGroupPolicy":
		g.putGroup(b)
		return nil
	case "AddUserToGroup":
		return g.addToGroup(b)
	case "CreatePolicy", "CreatePolicyVersion", "SetDefaultPolicyVersion":
		g.rememberVersion(b)
		return nil
	case "DeleteUserPermissionsBoundary", "DeleteRolePermissionsBoundary":
		return g.boundaryDeleted()
	case "AttachManagedPolicyToPermissionSet", "PutInlinePolicyToPermissionSet":
		return g.permissionSet(b)
	case "CreateAccountAssignment":
		return g.assignment(b)
	}
	return nil
}

var iamGrantEvents = map[string]bool{
	"CreateUser": true, "CreateRole": true, "CreateGroup": true,
	"AttachUserPolicy": true, "AttachRolePolicy": true, "AttachGroupPolicy": true,
	"DetachUserPolicy": true, "DetachRolePolicy": true, "DetachGroupPolicy": true,
	"PutGroupPolicy": true, "AddUserToGroup": true,
	"CreatePolicy": true, "CreatePolicyVersion": true, "SetDefaultPolicyVersion": true,
	"DeleteUserPermissionsBoundary": true, "DeleteRolePermissionsBoundary": true,
}

var ssoGrantEvents = map[string]bool{
	"AttachManagedPolicyToPermissionSet": true, "PutInlinePolicyToPermissionSet": true,
	"CreateAccountAssignment": true,
}

// accountOf is the account whose IAM the record changed.
func accountOf(r *cloudtrail.Record) string {
	if r.RecipientAccountID != "" {
		return r.RecipientAccountID
	}
	return r.AccountID()
}

// IsAdministratorAccess reports whether arn is the AWS managed
// AdministratorAccess policy in any partition
// (arn:<partition>:iam::aws:policy/AdministratorAccess).
func IsAdministratorAccess(arn string) bool {
	return awsManagedName(arn) == "AdministratorAccess"
}

// customerPolicy reports whether arn names a customer managed policy
// (arn:<partition>:iam::<account>:policy/…).
func customerPolicy(arn string) bool {
	f := strings.SplitN(arn, ":", 6)
	return len(f) == 6 && f[0] == "arn" && f[2] == "iam" && isAccountID(f[4]) && strings.HasPrefix(f[5], "policy/")
}
