package builtin

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// AccessKeyPersistenceID is the stable id of the access-key-persistence detector.
const AccessKeyPersistenceID = "access-key-persistence"

// AccessKeyPersistence raises a finding when a caller gives an IAM user a
// new long-lived credential: an access key (CreateAccessKey) or a console
// password (CreateLoginProfile, UpdateLoginProfile).
//
// For another user it is HIGH: an IAM user, an assumed role or root minting
// credentials for someone else is the classic backdoor. A root access key
// (CreateAccessKey by root naming no user) is CRITICAL. A user acting on
// itself is self-service: LOW for a new key or a password reset, MEDIUM for
// a console password created by a user that had none (stolen access keys
// turned into console access). Failed calls raise nothing: no credential
// came into being, and attempts are the business of enumeration detectors.
//
// It follows a key a user created for itself (see access_key_second_key.go)
// and keeps, per IAM user, the networks its keys were used from.
type AccessKeyPersistence struct {
	info     detectors.Info
	opts     AccessKeyPersistenceOptions
	settings *detectors.Settings
}

// AccessKeyPersistenceOptions are the keys under
// detectors.access-key-persistence.
type AccessKeyPersistenceOptions struct {
	// SelfService raises LOW findings for a user creating its own access key
	// or resetting its own password. Default true: a new long-lived key is
	// worth a line in the record even when routine. MEDIUM self-created
	// console passwords are raised either way.
	SelfService bool `yaml:"self_service"`
	// SecondKeyWindow is how long after a user created a key for itself
	// the new key is followed: used from a network the user had not used
	// (HIGH), or used alongside the old key past a rotation's time
	// (MEDIUM). Default 168h (7 days).
	SecondKeyWindow time.Duration `yaml:"second_key_window"`
	// NetworkHistory is how long a network (an ASN with GeoIP, a /16 or
	// /48 without) stays known for an IAM user after its access keys were
	// last used from it. Default 2160h (90 days).
	NetworkHistory time.Duration `yaml:"network_history"`
}

// DefaultAccessKeyPersistenceOptions returns the defaults.
func DefaultAccessKeyPersistenceOptions() AccessKeyPersistenceOptions {
	return AccessKeyPersistenceOptions{SelfService: true, SecondKeyWindow: 7 * 24 * time.Hour, NetworkHistory: 90 * 24 * time.Hour}
}

// NewAccessKeyPersistence returns the detector configured by cfg.
func NewAccessKeyPersistence(cfg detectors.Config) (detectors.Detector, error) {
	opts := DefaultAccessKeyPersistenceOptions()
	if err := cfg.Decode(&opts); err != nil {
		return nil, fmt.Errorf("%s: %w", AccessKeyPersistenceID, err)
	}
	var errs []error
	if opts.SecondKeyWindow < time.Hour || opts.SecondKeyWindow > 90*24*time.Hour {
		errs = append(errs, &detectors.OptionError{Key: "second_key_window", Reason: fmt.Sprintf("%v is not in [1h, 2160h]", opts.SecondKeyWindow)})
	}
	if opts.NetworkHistory < 24*time.Hour {
		errs = append(errs, &detectors.OptionError{Key: "network_history", Reason: fmt.Sprintf("%v is shorter than 24h", opts.NetworkHistory)})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%s: %w", AccessKeyPersistenceID, err)
	}
	return &AccessKeyPersistence{opts: opts, settings: cfg.OrgSettings(), info: detectors.Info{
		ID:    AccessKeyPersistenceID,
		Title: "New long-lived credential for an IAM user",
		Description: "A caller created an access key or console password for an IAM user " +
			"(CreateAccessKey, CreateLoginProfile, UpdateLoginProfile). HIGH when the caller is " +
			"not that user (another user, an assumed role, root); CRITICAL for a root access key; " +
			"LOW for a user's own key or password reset, MEDIUM for a user giving itself a console password. " +
			"A key a user created for itself is followed: MEDIUM when created from a network the user had not used " +
			"or when old and new key stay in use together past a rotation's time, HIGH when the new key is used " +
			"from a network the user had not used.",
		Severity:   detectors.SeverityHigh,
		Techniques: []string{"T1098.001"},
	}}, nil
}

// Info implements Detector.
func (d *AccessKeyPersistence) Info() detectors.Info { return d.info }

// credentialKinds names, per IAM call, the credential it creates and the
// responseElements object that may name the user.
var credentialKinds = map[string]struct{ what, response string }{
	"CreateAccessKey":    {"access key", "accessKey"},
	"CreateLoginProfile": {"console password", "loginProfile"},
	"UpdateLoginProfile": {"console password", "loginProfile"},
}

// Observe implements Detector.
func (d *AccessKeyPersistence) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	use := d.observeUse(ev, b)
	// The source first: most records are not IAM's, and comparing it
	// costs less than looking the name up.
	if r.EventSource != "iam.amazonaws.com" {
		if use == nil {
			return nil
		}
		return use
	}
	kind, ok := credentialKinds[r.EventName]
	if !ok || r.Failed() {
		if use == nil {
			return nil
		}
		return use // a *keyUse is its own Evaluation: no closure to allocate
	}
	g := grant{d: d, r: r, what: kind.what}
	g.target, g.newKey, g.named = grantTarget(r, kind.response)
	g.account = r.RecipientAccountID
	if g.account == "" {
		g.account = r.AccountID()
	}
	g.self = g.isSelf()
	f, ok := g.finding()
	if g.self && r.EventName == "CreateAccessKey" && use != nil && g.newKey != "" {
		use.remember(b, g.newKey)
		return detectors.EvaluationFunc(func() ([]detectors.Finding, error) { return g.selfKey(use, f, ok) })
	}
	if !ok {
		return nil
	}
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) { return []detectors.Finding{f}, nil })
}

// selfKey judges a key a user created for itself with another of its keys:
// MEDIUM when the call came from a network the user had not used (and the
// new key is then HIGH when used from there), else the LOW of f.
func (g *grant) selfKey(use *keyUse, f detectors.Finding, ok bool) ([]detectors.Finding, error) {
	fresh, _, err := use.freshNetwork(g.r.EventTime)
	if err != nil {
		return nil, err
	}
	if !fresh {
		if !ok {
			return nil, nil
		}
		return []detectors.Finding{f}, nil
	}
	win, err := use.keys.Get()
	if err != nil {
		return nil, err
	}
	sev, score, also := detectors.SeverityMedium, 55, ""
	if slices.Contains(win.Members, g.newKey) {
		// Its use was scored before this record (delivered late): the
		// rule of the new key's use could not pair it, so this record does.
		sev, score, also = detectors.SeverityHigh, 80, "; the new key was already in use within the hour"
	}
	m := g.raise(sev, score, fmt.Sprintf("the user created a second key for itself with key %s "+
		"from %s, a network it first used within the last %s: how a stolen key keeps a way in after it is revoked%s",
		g.r.UserIdentity.AccessKeyID, use.network, detectors.Days(freshSpan), also))
	m.Evidence["network"] = use.network
	return []detectors.Finding{m}, nil
}

// grantTarget reads the user a credential call names: requestParameters
// userName, else the user its response names. It also returns the id of a
// new access key, and whether the request named the user. Records of an
// unexpected shape give empty strings.
func grantTarget(r *cloudtrail.Record, response string) (user, key string, named bool) {
	var params struct {
		UserName string `json:"userName"`
	}
	_ = r.Params(&params) // an odd shape leaves the name empty
	var resp map[string]struct {
		UserName    string `json:"userName"`
		AccessKeyID string `json:"accessKeyId"`
	}
	_ = r.Response(&resp)
	user, named = params.UserName, params.UserName != ""
	if user == "" {
		user = resp[response].UserName
	}
	return user, resp[response].AccessKeyID, named
}

// grant is one credential call being judged.
type grant struct {
	d       *AccessKeyPersistence
	r       *cloudtrail.Record
	what    string // "access key" or "console password"
	target  string // IAM user name; "" when the call names none
	named   bool   // the request parameters named target (not only the response)
	account string // the account the target user lives in
	newKey  string // the new access key id, when the response gives it
	self    bool
}

// isSelf reports whether the caller is the target user: an IAM user of the
// target's account whose name (from its ARN and from userName, when both
// are given) is the target's. A call naming no user acts on the caller
// itself. Assumed roles, federated users and root are never an IAM user.
func (g *grant) isSelf() bool {
	u := &g.r.UserIdentity
	if u.Type != "IAMUser" {
		return false
	}
	acct, name := iamUserOfARN(u.ARN)
	if u.AccountID != "" {
		if acct != "" && acct != u.AccountID {
			return false // contradictory record: prove nothing
		}
		acct = u.AccountID
	}
	if acct != g.account {
		return false
	}
	if g.target == "" {
		return true
	}
	if name == "" && u.UserName == "" {
		return false
	}
	return (name == "" || name == g.target) && (u.UserName == "" || u.UserName == g.target)
}

// iamUserOfARN splits arn:<partition>:iam::<account>:user[/path]/<name>.
func iamUserOfARN(arn string) (account, name string) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" {
		return "", ""
	}
	res, ok := strings.CutPrefix(parts[5], "user/")
	if !ok {
		return "", ""
	}
	return parts[4], res[strings.LastIndexByte(res, '/')+1:]
}

func (g *grant) finding() (detectors.Finding, bool) {
	root := g.r.UserIdentity.Type == "Root"
	switch {
	case root && g.r.EventName == "CreateAccessKey" && !g.named:
		// The request named no user: root made a key for itself, whatever
		// name the response gives it (real records say "root" or "Root").
		return g.rootKey(), true
	case g.self && g.r.EventName == "CreateLoginProfile":
		return g.raise(detectors.SeverityMedium, 55, "the user gave itself a console password, which is how stolen "+
			"access keys become console access"), true
	case g.self && !g.d.opts.SelfService:
		return detectors.Finding{}, false
	case g.self && g.r.EventName == "CreateAccessKey":
		return g.raise(detectors.SeverityLow, 25, "the user created a key for itself: self-service, "+
			"but a new long-lived credential"), true
	case g.self:
		return g.raise(detectors.SeverityLow, 20, "the user reset its own console password with UpdateLoginProfile, "+
			"an administrator's call (ChangePassword is the self-service one)"), true
	default:
		return g.raise(detectors.SeverityHigh, 80, g.otherReason()), true
	}
}

func (g *grant) otherReason() string {
	who := "a caller that is not that user"
	switch g.r.UserIdentity.Type {
	case "IAMUser":
		who = "another IAM user"
	case "AssumedRole":
		who = "an assumed-role session, which is never the user itself"
	case "Root":
		who = "the root user"
	}
	return fmt.Sprintf("the caller is %s; credentials minted for someone else are a classic backdoor", who)
}

func (g *grant) base(sev detectors.Severity, score int) detectors.Finding {
	f := detectors.NewFinding(g.d.info, g.r, sev, score)
	u := &g.r.UserIdentity
	f.Evidence["actor"] = detectors.Actor(g.r)
	f.Evidence["caller_type"] = u.Type
	f.Evidence["credential"] = g.what
	f.Evidence["target_account"] = g.account
	f.Evidence["self"] = fmt.Sprint(g.self)
	if g.target != "" {
		f.Evidence["target_user"] = g.target
	}
	if g.newKey != "" {
		f.Evidence["new_access_key_id"] = g.newKey
	}
	if u.InvokedBy != "" {
		f.Evidence["invoked_by"] = u.InvokedBy
	}
	return f
}

func (g *grant) raise(sev detectors.Severity, score int, why string) detectors.Finding {
	f := g.base(sev, score)
	target := g.target
	if target == "" {
		target = "(not named in the record)"
	}
	key := ""
	if g.newKey != "" {
		key = " " + g.newKey
	}
	f.Explanation = fmt.Sprintf("%s (%s) called %s from %s for IAM user %q of account %s (new %s%s): %s",
		detectors.Actor(g.r), g.r.UserIdentity.Type, g.r.EventName, g.r.SourceIPAddress, target, g.account, g.what, key, why)
	return f
}

func (g *grant) rootKey() detectors.Finding {
	f := g.base(detectors.SeverityCritical, 95)
	f.Evidence["target_user"] = "root"
	key := "an access key"
	if g.newKey != "" {
		key = "access key " + g.newKey
	}
	f.Explanation = fmt.Sprintf("the root user of account %s created %s for itself from %s: root access keys "+
		"are unrestricted long-lived credentials that AWS and CIS say should not exist", g.account, key, g.r.SourceIPAddress)
	return f
}
