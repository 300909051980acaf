package builtin

import (
	"fmt"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// ConsoleLoginWithoutMFAID is the stable id of the console-login-without-mfa
// detector.
const ConsoleLoginWithoutMFAID = "console-login-without-mfa"

// consoleMFAMemory is how long a sign-in without MFA is remembered for a
// grant delivered after it: the life of admin-policy-attached's mark on a
// user, so either record can find the other.
const consoleMFAMemory = adminFreshWindow + time.Hour

// ConsoleLoginWithoutMFA raises a finding when an IAM user signs in to the
// console with a password alone (ConsoleLogin succeeded, MFAUsed "No"): a
// phished or reused password is then the whole of the account. MEDIUM, one
// incident per user and day; HIGH when the user holds an administrator-
// equivalent grant admin-policy-attached saw (its "admin-granted" mark on
// the user, kept a day after the grant). When the grant is delivered after
// the sign-in it precedes, the grant's record raises the HIGH instead, for
// an AWS managed admin policy attached to the user.
//
// Root sign-ins are root-account-use's (it names MFA in its evidence).
// Sign-ins through SAML or IAM Identity Center (assumed-role sessions, a
// SamlProviderArn) carry their identity provider's MFA, which MFAUsed does
// not describe: they are quiet, as are failed sign-ins.
type ConsoleLoginWithoutMFA struct {
	info detectors.Info
}

// NewConsoleLoginWithoutMFA returns the detector. It takes no options.
func NewConsoleLoginWithoutMFA(detectors.Config) (detectors.Detector, error) {
	return &ConsoleLoginWithoutMFA{info: detectors.Info{
		ID:    ConsoleLoginWithoutMFAID,
		Title: "Console sign-in without MFA",
		Description: "An IAM user signed in to the console with a password alone (MFAUsed \"No\"). MEDIUM, one " +
			"incident per user and day; HIGH when the user holds an administrator-equivalent grant that " +
			"admin-policy-attached saw within the day before, whichever record arrives first. Root sign-ins are " +
			"root-account-use's; SAML and Identity Center sign-ins (their MFA is the identity provider's) and " +
			"failed sign-ins are quiet.",
		Severity:   detectors.SeverityMedium,
		Techniques: []string{"T1078.004"},
	}}, nil
}

// Info implements Detector.
func (d *ConsoleLoginWithoutMFA) Info() detectors.Info { return d.info }

// Interests implements detectors.Selective: the two calls of Observe's
// switch.
func (d *ConsoleLoginWithoutMFA) Interests() []detectors.Call {
	return []detectors.Call{{Source: "signin.amazonaws.com", Name: "ConsoleLogin"}, {Source: "iam.amazonaws.com", Name: "AttachUserPolicy"}}
}

// Observe implements Detector.
func (d *ConsoleLoginWithoutMFA) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	switch {
	case r.EventSource == "signin.amazonaws.com" && r.EventName == "ConsoleLogin":
		return d.observeSignIn(ev, b)
	case r.EventSource == "iam.amazonaws.com" && r.EventName == "AttachUserPolicy" && !r.Failed():
		return d.observeGrant(ev, b)
	}
	return nil
}

// passwordSignIn is a sign-in without MFA being judged.
type passwordSignIn struct {
	d       *ConsoleLoginWithoutMFA
	ev      *detectors.Event
	account string
	user    string
	admin   *state.Future[state.Mark]
}

func (d *ConsoleLoginWithoutMFA) observeSignIn(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	if r.UserIdentity.Type != "IAMUser" || consoleOutcome(r) != "Success" {
		return nil
	}
	var add struct {
		MFAUsed         string `json:"MFAUsed"`
		SamlProviderARN string `json:"SamlProviderArn"`
	}
	if err := r.Additional(&add); err != nil || add.MFAUsed != "No" || add.SamlProviderARN != "" {
		return nil
	}
	s := &passwordSignIn{d: d, ev: ev, account: r.AccountID(), user: signInUser(r)}
	if s.user == "" {
		return nil
	}
	entity := detectors.IAMEntity(s.account, "user", s.user)
	s.admin = b.ReadMark(ev.Key(entity, "admin-granted"))
	b.Mark(ev.Key(entity, "console-no-mfa"), r.EventTime, state.KeepLatest, consoleMFAMemory)
	return s
}

// signInUser is the user name of an IAM user's sign-in.
func signInUser(r *cloudtrail.Record) string {
	if n := r.UserIdentity.UserName; n != "" {
		return n
	}
	_, name := iamUserOfARN(r.UserIdentity.ARN)
	return name
}

// Findings implements Evaluation.
func (s *passwordSignIn) Findings() ([]detectors.Finding, error) {
	m, err := s.admin.Get()
	if err != nil {
		return nil, err
	}
	r := s.ev.Record
	day := state.BucketStart(r.EventTime, 24*time.Hour).Format(time.DateOnly)
	admin := m.Set && !m.At.After(r.EventTime) && r.EventTime.Sub(m.At) <= consoleMFAMemory
	f := detectors.NewFinding(s.d.info, r, detectors.SeverityMedium, 50)
	why := "a password alone opened the console: a phished or reused password is then enough"
	key := "console-no-mfa:" + day
	if admin {
		f.Severity, f.Score = detectors.SeverityHigh, 80
		why = fmt.Sprintf("the user was given administrator-equivalent permissions at %s, so a password alone "+
			"opens an administrator's console", m.At.Format(time.RFC3339))
		key = "console-no-mfa-admin:" + day
		f.Evidence["admin_granted_at"] = m.At.Format(time.RFC3339)
	}
	f.Explanation = fmt.Sprintf("IAM user %q of account %s signed in to the console without MFA from %s: %s",
		s.user, s.account, r.SourceIPAddress, why)
	f.Evidence["user"] = s.user
	f.Evidence["mfa_used"] = "false"
	f.Once = detectors.OncePer(s.ev.Key(detectors.IAMEntity(s.account, "user", s.user), key), 24*time.Hour)
	return []detectors.Finding{f}, nil
}

// observeGrant pairs an AWS managed admin policy attached to a user with a
// sign-in without MFA scored before it that it precedes: the sign-in
// could not see the grant's mark, so the grant raises the HIGH.
func (d *ConsoleLoginWithoutMFA) observeGrant(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	var p struct {
		UserName  string `json:"userName"`
		PolicyARN string `json:"policyArn"`
	}
	if err := r.Params(&p); err != nil || p.UserName == "" || awsManaged[awsManagedName(p.PolicyARN)].level != levelAdmin {
		return nil
	}
	account := r.RecipientAccountID
	if account == "" {
		account = r.AccountID()
	}
	entity := detectors.IAMEntity(account, "user", p.UserName)
	seen := b.ReadMark(ev.Key(entity, "console-no-mfa"))
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		m, err := seen.Get()
		if err != nil {
			return nil, err
		}
		if !m.Set || m.At.Before(r.EventTime) || m.At.Sub(r.EventTime) > consoleMFAMemory {
			return nil, nil
		}
		f := detectors.NewFinding(d.info, r, detectors.SeverityHigh, 80)
		f.Explanation = fmt.Sprintf("IAM user %q of account %s was given %s at %s and signed in to the console "+
			"without MFA at %s: a password alone opens an administrator's console", p.UserName, account,
			p.PolicyARN, r.EventTime.Format(time.RFC3339), m.At.Format(time.RFC3339))
		f.Evidence["user"] = p.UserName
		f.Evidence["policy_arn"] = p.PolicyARN
		f.Evidence["signed_in_at"] = m.At.Format(time.RFC3339)
		day := state.BucketStart(m.At, 24*time.Hour).Format(time.DateOnly)
		f.Once = detectors.OncePer(ev.Key(entity, "console-no-mfa-admin:"+day), 24*time.Hour)
		return []detectors.Finding{f}, nil
	})
}
