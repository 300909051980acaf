package builtin

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/internal/wildcard"
	"github.com/iamsentry/iamsentry/state"
)

// CredentialPersistenceID is the stable id of the credential-persistence
// detector.
const CredentialPersistenceID = "credential-persistence"

// CredentialPersistenceOptions are the keys under
// detectors.credential-persistence.
type CredentialPersistenceOptions struct {
	// PairWindow is how far apart in event time, in either order, the two
	// halves of a persistence path may be for the later one to raise HIGH:
	// a Roles Anywhere trust anchor and a profile for a privileged role, a
	// new SAML/OIDC provider and a role trusting it. Default 24h.
	PairWindow time.Duration `yaml:"pair_window"`
	// BreakGlassPrincipals are wildcard patterns ('*', '?') on the caller
	// ARNs (or, for assumed-role sessions, the issuing role ARNs) that the
	// organisation declares for sts:AssumeRoot: their calls are LOW, not
	// HIGH. Default none.
	BreakGlassPrincipals []string `yaml:"break_glass_principals"`
	// SelfService raises LOW findings for a user giving itself an SSH
	// public key or a service-specific credential, and for a federation
	// token whose session policy grants nothing broad. Default true.
	SelfService bool `yaml:"self_service"`
}

// DefaultCredentialPersistenceOptions returns the defaults.
func DefaultCredentialPersistenceOptions() CredentialPersistenceOptions {
	return CredentialPersistenceOptions{PairWindow: 24 * time.Hour, SelfService: true}
}

// CredentialPersistence raises when a caller creates a way back in that is
// not an access key or console password (access-key-persistence covers
// those): federation tokens with a broad session policy, IAM Roles Anywhere
// trust anchors and profiles, SSH public keys and service-specific
// credentials for another user, an access key switched back to Active,
// sts:AssumeRoot, and new SAML/OIDC identity providers, HIGH when a role
// trusts one within PairWindow.
//
// Either order of a pair raises HIGH on its later record: each half leaves
// a mark (per account and region for Roles Anywhere, per provider ARN for
// identity providers) and reads the other's.
type CredentialPersistence struct {
	info     detectors.Info
	opts     CredentialPersistenceOptions
	settings *detectors.Settings
}

// NewCredentialPersistence builds the detector from cfg.
func NewCredentialPersistence(cfg detectors.Config) (detectors.Detector, error) {
	opts := DefaultCredentialPersistenceOptions()
	if err := cfg.Decode(&opts); err != nil {
		return nil, err
	}
	var errs []error
	if opts.PairWindow < time.Minute || opts.PairWindow > 30*24*time.Hour {
		errs = append(errs, &detectors.OptionError{Key: "pair_window", Reason: fmt.Sprintf("%v is not in [1m, 720h]", opts.PairWindow)})
	}
	for _, p := range opts.BreakGlassPrincipals {
		if !strings.HasPrefix(p, "arn:") {
			errs = append(errs, &detectors.OptionError{Key: "break_glass_principals", Reason: fmt.Sprintf("%q is not an ARN pattern", p)})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &CredentialPersistence{opts: opts, settings: cfg.OrgSettings(), info: detectors.Info{
		ID:    CredentialPersistenceID,
		Title: "Persistence through a credential other than an access key",
		Description: "A caller created a way back in other than an access key: GetFederationToken with a broad " +
			"session policy (HIGH), an IAM Roles Anywhere trust anchor (MEDIUM; HIGH with a profile for a " +
			"privileged role within " + detectors.Days(opts.PairWindow) + ", either order), an SSH public key or " +
			"service-specific credential for another user (HIGH), an access key switched back to Active (MEDIUM; " +
			"HIGH for another user's key), sts:AssumeRoot (HIGH unless by a break-glass principal), a new SAML or " +
			"OIDC provider (MEDIUM; HIGH when a role trusts it within the window, either order).",
		Severity:   detectors.SeverityHigh,
		Techniques: []string{"T1098.001", "T1556.007", "T1550.001"},
	}}, nil
}

// Info implements Detector.
func (d *CredentialPersistence) Info() detectors.Info { return d.info }

// Interests implements detectors.Selective: the calls of
// credentialCalls, which Observe looks up.
func (d *CredentialPersistence) Interests() []detectors.Call {
	calls := make([]detectors.Call, 0, len(credentialCalls))
	for c := range credentialCalls {
		calls = append(calls, detectors.Call{Source: c.source, Name: c.name})
	}
	return calls
}

// Observe implements Detector.
func (d *CredentialPersistence) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	if r.Failed() {
		return nil // nothing came into being; attempts are for enumeration detectors
	}
	// A pair, not the joined string: joining allocated on every record.
	if judge := credentialCalls[credentialCall{r.EventSource, r.EventName}]; judge != nil {
		return judge(d, ev, b)
	}
	return nil
}

// credentialCall is a CloudTrail event source and name.
type credentialCall struct{ source, name string }

// credentialCalls is what Observe does with each call it acts on. The
// engine calls Observe only for these (Interests), so the look-up is
// made for few records.
var credentialCalls = map[credentialCall]func(d *CredentialPersistence, ev *detectors.Event, b *state.Batch) detectors.Evaluation{
	{"sts.amazonaws.com", "GetFederationToken"}:              (*CredentialPersistence).federationToken,
	{"sts.amazonaws.com", "AssumeRoot"}:                      credentialOfRecord((*CredentialPersistence).assumeRoot),
	{"iam.amazonaws.com", "UploadSSHPublicKey"}:              credentialOfRecord((*CredentialPersistence).userCredential),
	{"iam.amazonaws.com", "CreateServiceSpecificCredential"}: credentialOfRecord((*CredentialPersistence).userCredential),
	{"iam.amazonaws.com", "UpdateAccessKey"}:                 credentialOfRecord((*CredentialPersistence).reactivatedKey),
	{"iam.amazonaws.com", "CreateSAMLProvider"}:              (*CredentialPersistence).newProvider,
	{"iam.amazonaws.com", "UpdateSAMLProvider"}:              (*CredentialPersistence).newProvider,
	{"iam.amazonaws.com", "CreateOpenIDConnectProvider"}:     (*CredentialPersistence).newProvider,
	{"iam.amazonaws.com", "CreateRole"}:                      (*CredentialPersistence).trustNamesProvider,
	{"iam.amazonaws.com", "UpdateAssumeRolePolicy"}:          (*CredentialPersistence).trustNamesProvider,
	{"rolesanywhere.amazonaws.com", "CreateTrustAnchor"}:     (*CredentialPersistence).trustAnchor,
	{"rolesanywhere.amazonaws.com", "UpdateTrustAnchor"}:     (*CredentialPersistence).trustAnchor,
	{"rolesanywhere.amazonaws.com", "CreateProfile"}:         (*CredentialPersistence).rolesAnywhereProfile,
	{"rolesanywhere.amazonaws.com", "UpdateProfile"}:         (*CredentialPersistence).rolesAnywhereProfile,
}

// credentialOfRecord adapts a judge of the record alone to credentialCalls.
func credentialOfRecord(f func(*CredentialPersistence, *cloudtrail.Record) detectors.Evaluation) func(*CredentialPersistence, *detectors.Event, *state.Batch) detectors.Evaluation {
	return func(d *CredentialPersistence, ev *detectors.Event, _ *state.Batch) detectors.Evaluation {
		return f(d, ev.Record)
	}
}

// eventAccount is the account whose IAM the event changed.
func eventAccount(r *cloudtrail.Record) string {
	if r.RecipientAccountID != "" {
		return r.RecipientAccountID
	}
	return r.AccountID()
}

func (d *CredentialPersistence) finding(r *cloudtrail.Record, sev detectors.Severity, what, why string) detectors.Finding {
	f := detectors.NewFinding(d.info, r, sev, severityScores[sev])
	if sev == detectors.SeverityInfo {
		f.Score = 10
	}
	f.Evidence["actor"] = detectors.Actor(r)
	f.Evidence["caller_type"] = r.UserIdentity.Type
	f.Evidence["account"] = eventAccount(r)
	f.Explanation = fmt.Sprintf("%s (%s) called %s from %s: %s; %s", detectors.Actor(r), r.UserIdentity.Type,
		r.EventName, r.SourceIPAddress, what, why)
	return f
}

func one(f detectors.Finding) detectors.Evaluation {
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) { return []detectors.Finding{f}, nil })
}

// targetUser reads the userName a per-user IAM call names, and whether the
// caller is that user (see grant.isSelf).
func targetUser(r *cloudtrail.Record) (user string, self bool) {
	var p struct {
		UserName string `json:"userName"`
	}
	_ = r.Params(&p) // an odd shape leaves the name empty: the caller's own
	g := grant{r: r, target: p.UserName, account: eventAccount(r)}
	return p.UserName, g.isSelf()
}

// userCredential judges an SSH public key or service-specific credential
// (CodeCommit, Keyspaces, Bedrock API keys) given to an IAM user: HIGH for
// another user, LOW for the caller itself.
func (d *CredentialPersistence) userCredential(r *cloudtrail.Record) detectors.Evaluation {
	user, self := targetUser(r)
	kind := "an SSH public key (CodeCommit, EC2 Instance Connect setups)"
	if r.EventName == "CreateServiceSpecificCredential" {
		var p struct {
			ServiceName string `json:"serviceName"`
		}
		_ = r.Params(&p)
		kind = "a service-specific credential for " + cmp.Or(p.ServiceName, "an unnamed service")
	}
	who := fmt.Sprintf("IAM user %q", cmp.Or(user, "(the caller)"))
	if self {
		if !d.opts.SelfService {
			return nil
		}
		f := d.finding(r, detectors.SeverityLow, kind+" for itself", "self-service, but a new long-lived credential")
		f.Evidence["target_user"], f.Evidence["self"] = cmp.Or(user, detectors.Actor(r)), "true"
		return one(f)
	}
	f := d.finding(r, detectors.SeverityHigh, kind+" for "+who,
		"a credential minted for someone else is a backdoor that survives the caller's own key being revoked")
	f.Evidence["target_user"], f.Evidence["self"] = user, "false"
	return one(f)
}

// reactivatedKey judges UpdateAccessKey: switching a key back to Active
// revives a credential someone retired (MEDIUM for the caller's own key,
// HIGH for another user's). Deactivation raises nothing.
func (d *CredentialPersistence) reactivatedKey(r *cloudtrail.Record) detectors.Evaluation {
	var p struct {
		Status      string `json:"status"`
		AccessKeyID string `json:"accessKeyId"`
	}
	if r.Params(&p) != nil || !strings.EqualFold(p.Status, "Active") {
		return nil
	}
	user, self := targetUser(r)
	sev, whose, why := detectors.SeverityHigh, fmt.Sprintf("IAM user %q", user),
		"reviving another user's retired key gives the caller a credential its owner no longer watches"
	if self {
		sev, whose, why = detectors.SeverityMedium, "its own user",
			"a retired key switched back on is how a stolen key keeps a second way in"
	}
	f := d.finding(r, sev, fmt.Sprintf("access key %s of %s set back to Active", cmp.Or(p.AccessKeyID, "(unnamed)"), whose), why)
	f.Evidence["access_key"] = p.AccessKeyID
	f.Evidence["self"] = fmt.Sprint(self)
	if user != "" {
		f.Evidence["target_user"] = user
	}
	return one(f)
}

// assumeRoot judges sts:AssumeRoot: a privileged root session on a member
// account, HIGH unless the caller is a declared break-glass principal
// (LOW), MEDIUM when the task policy only audits root credentials.
func (d *CredentialPersistence) assumeRoot(r *cloudtrail.Record) detectors.Evaluation {
	var p struct {
		TargetPrincipal string `json:"targetPrincipal"`
		TaskPolicyARN   struct {
			ARN string `json:"arn"`
		} `json:"taskPolicyArn"`
	}
	_ = r.Params(&p)
	task := cmp.Or(p.TaskPolicyARN.ARN, "(not recorded)")
	what := fmt.Sprintf("a root session on account %s with task policy %s", cmp.Or(p.TargetPrincipal, "(not recorded)"), task)
	sev, why := detectors.SeverityHigh, "a root session can delete root credentials, unlock bucket and queue policies, "+
		"and is not the declared break-glass principal"
	if strings.HasSuffix(task, "/IAMAuditRootUserCredentials") {
		sev, why = detectors.SeverityMedium, "the task policy only reads root credentials, but the caller is not the declared break-glass principal"
	}
	caller := r.StablePrincipal()
	for _, pat := range d.opts.BreakGlassPrincipals {
		if wildcard.Match(pat, caller) || wildcard.Match(pat, r.UserIdentity.ARN) {
			sev, why = detectors.SeverityLow, "the caller matches break_glass_principals pattern "+pat
			break
		}
	}
	f := d.finding(r, sev, what, why)
	f.Evidence["target_account"], f.Evidence["task_policy"] = p.TargetPrincipal, task
	return one(f)
}
