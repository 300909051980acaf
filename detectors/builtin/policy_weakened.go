package builtin

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// PolicyWeakenedID is the stable id of the policy-weakened detector.
const PolicyWeakenedID = "policy-weakened"

// PolicyWeakenedOptions are the detector's own keys under
// detectors.policy-weakened.
type PolicyWeakenedOptions struct {
	// StateTTL is how long the grant summary of a policy version, inline
	// policy or trust policy is remembered after it was last written.
	// Default 2160h (90 days): long enough to span the quarterly change
	// cycles in which a rollback to an old version happens.
	StateTTL time.Duration `yaml:"state_ttl"`
	// TrustedAccounts are accounts outside the organisation that trust
	// policies may name without a finding: vendors such as a monitoring or
	// security SaaS that assume a role with an external id. Default none.
	TrustedAccounts []string `yaml:"trusted_accounts"`
	// ReportUnseenVersions raises LOW when SetDefaultPolicyVersion makes a
	// version default whose document the detector never saw (created
	// before it ran, or longer ago than state_ttl). Default true.
	ReportUnseenVersions bool `yaml:"report_unseen_versions"`
	// ReportDenied raises LOW when a call that would have granted something
	// risky was denied (AccessDenied and its kin). Default true.
	ReportDenied bool `yaml:"report_denied"`
}

// DefaultPolicyWeakenedOptions returns the defaults documented on
// PolicyWeakenedOptions.
func DefaultPolicyWeakenedOptions() PolicyWeakenedOptions {
	return PolicyWeakenedOptions{StateTTL: 90 * 24 * time.Hour, ReportUnseenVersions: true, ReportDenied: true}
}

// PolicyWeakened raises a finding when an IAM policy starts to grant
// something risky: a managed policy version (CreatePolicy,
// CreatePolicyVersion as default, SetDefaultPolicyVersion), an inline policy
// (PutUserPolicy, PutRolePolicy, PutGroupPolicy) or a role's trust policy
// (CreateRole, UpdateAssumeRolePolicy).
//
// Allow of every action on every resource is CRITICAL, and so is a
// NotAction that leaves a way to grant oneself policies; iam:PassRole on any
// role or on a role of privileged_roles, a privilege escalation action set
// (package policy, after Rhino Security Labs and Bishop Fox iam-vulnerable),
// Allow with NotAction, iam:*/sts:*/organizations:* on every resource, and a
// trust policy open to any AWS principal, to an account outside the
// organisation or to a public web identity provider without a subject
// condition are HIGH. A grant that holds only under a Condition is one step
// lower; a condition that holds for every request (aws:SecureTransport true,
// StringLike aws:userid "*", …) is no condition, and a partition-wide
// resource (arn:aws:*:*:*:*) is every resource. When the previous effective document of the same policy
// is known, only what the new one adds counts: a version no broader than the
// one it replaces raises nothing.
//
// It remembers, per policy, a compact summary of what the effective
// document grants (package policy), for StateTTL.
type PolicyWeakened struct {
	info     detectors.Info
	settings *detectors.Settings
	opts     PolicyWeakenedOptions
}

var _ detectors.Notable = (*PolicyWeakened)(nil)

// NewPolicyWeakened builds the detector from cfg: the organisation's
// accounts from cfg.Settings and the options of PolicyWeakenedOptions.
func NewPolicyWeakened(cfg detectors.Config) (detectors.Detector, error) {
	opts := DefaultPolicyWeakenedOptions()
	if err := cfg.Decode(&opts); err != nil {
		return nil, err
	}
	var errs []error
	if opts.StateTTL < time.Hour {
		errs = append(errs, &detectors.OptionError{Key: "state_ttl", Reason: fmt.Sprintf("%v is shorter than 1h", opts.StateTTL)})
	}
	for _, a := range opts.TrustedAccounts {
		if !isAccountID(a) {
			errs = append(errs, &detectors.OptionError{Key: "trusted_accounts", Reason: fmt.Sprintf("%q is not a 12-digit account id", a)})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	settings := cfg.OrgSettings()
	return &PolicyWeakened{settings: settings, opts: opts, info: detectors.Info{
		ID:    PolicyWeakenedID,
		Title: "IAM policy weakened",
		Description: "A managed, inline or trust policy started to grant something risky: every action on every " +
			"resource, or a NotAction leaving a way to grant oneself policies (CRITICAL); iam:PassRole on any role " +
			"or on a privileged role, a privilege escalation action set (iam:CreatePolicyVersion, iam:Attach*Policy, " +
			"iam:CreateAccessKey, iam:PassRole with lambda:CreateFunction, …), NotAction, iam:*/sts:*/organizations:* " +
			"on every resource, or role assumption by anyone, by an account outside the organisation or by a public " +
			"web identity provider without a subject condition (HIGH). A grant behind a Condition is one step lower " +
			"(conditions true for every request do not count); a new version no broader than the one it replaces " +
			"raises nothing.",
		Severity:   detectors.SeverityHigh,
		Techniques: []string{"T1098.003", "T1484"},
	}}, nil
}

// Info implements Detector.
func (d *PolicyWeakened) Info() detectors.Info { return d.info }

// Notes implements Notable.
func (d *PolicyWeakened) Notes() []string {
	if len(d.settings.Accounts) == 0 {
		return []string{"no accounts configured; a trust policy naming any account other than " +
			"the event's own is reported as outside the organisation"}
	}
	return nil
}

func isAccountID(s string) bool {
	return len(s) == 12 && strings.Trim(s, "0123456789") == ""
}

// policyParams are the request parameters of the calls the detector reads.
type policyParams struct {
	PolicyName     string          `json:"policyName"`
	PolicyARN      string          `json:"policyArn"`
	Path           string          `json:"path"`
	UserName       string          `json:"userName"`
	RoleName       string          `json:"roleName"`
	GroupName      string          `json:"groupName"`
	VersionID      string          `json:"versionId"`
	SetAsDefault   json.RawMessage `json:"setAsDefault"`
	PolicyDocument json.RawMessage `json:"policyDocument"`
	TrustDocument  json.RawMessage `json:"assumeRolePolicyDocument"`
}

// policyResponse is what the detector reads of responseElements.
type policyResponse struct {
	Policy struct {
		ARN              string `json:"arn"`
		DefaultVersionID string `json:"defaultVersionId"`
	} `json:"policy"`
	PolicyVersion struct {
		VersionID string `json:"versionId"`
	} `json:"policyVersion"`
}

// policyChanges are the IAM calls Observe acts on.
var policyChanges = map[string]bool{
	"CreatePolicy": true, "CreatePolicyVersion": true, "SetDefaultPolicyVersion": true,
	"PutUserPolicy": true, "PutRolePolicy": true, "PutGroupPolicy": true, "CreateRole": true, "UpdateAssumeRolePolicy": true,
}

// Interests implements detectors.Selective: policyChanges.
func (d *PolicyWeakened) Interests() []detectors.Call {
	return callsOf("iam.amazonaws.com", policyChanges)
}

// Observe implements Detector.
func (d *PolicyWeakened) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	if r.EventSource != "iam.amazonaws.com" || !policyChanges[r.EventName] {
		return nil
	}
	var p policyParams
	if err := r.Params(&p); err != nil {
		return nil // requestParameters of an unexpected shape: nothing to read
	}
	var resp policyResponse
	_ = r.Response(&resp) // optional: ARNs and version ids are rebuilt or skipped without it
	c, ok := d.change(ev, &p, &resp)
	if !ok {
		return nil
	}
	if r.Failed() {
		return c.failed()
	}
	if r.EventName == "SetDefaultPolicyVersion" {
		return c.setDefault(b)
	}
	return c.newDocument(b)
}

// change is one policy change being evaluated.
type change struct {
	d        *PolicyWeakened
	ev       *detectors.Event
	r        *cloudtrail.Record
	account  string // the account whose IAM changed
	kind     string // "managed", "inline" or "trust"
	what     string // the policy, in words
	identity string // state identity of the policy; "" when the record does not name it (judged without state)
	name     string // state name of its effective document
	version  string // version id, managed policies only
	isNew    bool   // the policy did not exist before this call
	effect   bool   // the document takes effect with this call
	doc      json.RawMessage
	evidence map[string]string
	trustees *trustChange // trust policies only, once queued
}

// change works out which policy the event changes, and how; ok is false
// when the event carries no document to judge. A policy the record does
// not name (hand-trimmed records) is judged on its document alone.
func (d *PolicyWeakened) change(ev *detectors.Event, p *policyParams, resp *policyResponse) (c change, ok bool) {
	r := ev.Record
	c = change{d: d, ev: ev, r: r, account: r.RecipientAccountID, doc: p.PolicyDocument, effect: true,
		evidence: map[string]string{"actor": detectors.Actor(r)}}
	if c.account == "" {
		c.account = r.AccountID()
	}
	switch r.EventName {
	case "CreatePolicy", "CreatePolicyVersion", "SetDefaultPolicyVersion":
		c.managed(p, resp)
	case "PutUserPolicy", "PutRolePolicy", "PutGroupPolicy":
		c.inline(p)
	case "CreateRole", "UpdateAssumeRolePolicy":
		c.trust(p)
	}
	c.evidence["policy_type"] = c.kind
	if r.EventName == "SetDefaultPolicyVersion" {
		return c, c.identity != ""
	}
	return c, len(c.doc) > 0 && string(c.doc) != "null" // no document recorded: nothing to judge
}

func (c *change) managed(p *policyParams, resp *policyResponse) {
	arn := p.PolicyARN
	switch c.r.EventName {
	case "CreatePolicy":
		arn, c.version, c.isNew = resp.Policy.ARN, cmp.Or(resp.Policy.DefaultVersionID, "v1"), true
		if arn == "" && p.PolicyName != "" {
			arn = managedARN(c.r, c.account, p.Path, p.PolicyName)
		}
	case "CreatePolicyVersion":
		c.version, c.effect = resp.PolicyVersion.VersionID, isTrue(p.SetAsDefault)
	case "SetDefaultPolicyVersion":
		c.version = p.VersionID
	}
	c.kind, c.what, c.identity, c.name = "managed", "managed policy "+arn, arn, "policy:default"
	if arn == "" {
		c.what = "a managed policy CloudTrail did not name"
	} else {
		c.evidence["policy_arn"] = arn
	}
	if c.version != "" {
		c.evidence["version_id"] = c.version
	}
}

func (c *change) inline(p *policyParams) {
	tk, tn := inlineTarget(p)
	c.kind, c.what = "inline", fmt.Sprintf("inline policy %q of %s %q", p.PolicyName, tk, tn)
	if tn == "" || p.PolicyName == "" {
		c.what = "an inline policy CloudTrail did not name"
		return
	}
	c.identity, c.name = detectors.IAMEntity(c.account, tk, tn), "inline:"+p.PolicyName
	c.evidence["policy_name"], c.evidence["target_type"], c.evidence["target_name"] = p.PolicyName, tk, tn
}

func (c *change) trust(p *policyParams) {
	if c.r.EventName == "CreateRole" {
		c.doc, c.isNew = p.TrustDocument, true
	}
	c.kind, c.what = "trust", fmt.Sprintf("the trust policy of role %q", p.RoleName)
	if p.RoleName == "" {
		c.what = "the trust policy of a role CloudTrail did not name"
		return
	}
	c.identity, c.name = detectors.IAMEntity(c.account, "role", p.RoleName), "trust"
	c.evidence["target_type"], c.evidence["target_name"] = "role", p.RoleName
}

func inlineTarget(p *policyParams) (kind, name string) {
	return iamTarget(p.UserName, p.RoleName, p.GroupName)
}

// iamTarget returns the IAM entity a call names by its userName, roleName
// or groupName parameter, the first one set.
func iamTarget(user, role, group string) (kind, name string) {
	switch {
	case user != "":
		return "user", user
	case role != "":
		return "role", role
	case group != "":
		return "group", group
	}
	return "", ""
}

// managedARN rebuilds a customer managed policy's ARN when CloudTrail
// recorded no response, in the partition of the caller.
func managedARN(r *cloudtrail.Record, account, path, name string) string {
	partition := "aws"
	if f := strings.SplitN(r.UserIdentity.ARN, ":", 3); len(f) == 3 && f[1] != "" {
		partition = f[1]
	}
	if path == "" {
		path = "/"
	}
	return "arn:" + partition + ":iam::" + account + ":policy" + path + name
}

// isTrue reads setAsDefault, recorded as a JSON boolean (or, by some
// exporters, a string).
func isTrue(raw json.RawMessage) bool {
	s := strings.Trim(string(raw), `" `)
	return strings.EqualFold(s, "true")
}
