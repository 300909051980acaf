package builtin

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// RootAccountUseID is the stable id of the root-account-use detector.
const RootAccountUseID = "root-account-use"

// RootAccountUse raises a finding when an account's root user is used: a
// successful console sign-in or any successful API call it makes itself.
// Root needs no day-to-day use (CIS 1.7), so every use is worth a line; the
// severity says how far it is from a planned break-glass session:
//
//   - LOW from a trusted network (trusted_networks): the office or VPN the
//     organisation plans root sessions from;
//   - MEDIUM otherwise, one incident per account, network and day;
//   - HIGH from a network new for the account's root user (its networks are
//     learned per account: an ASN with GeoIP, a /16 or /48 without), or from
//     a hosting, VPN or Tor network, one incident per account and network;
//   - HIGH for a persistence change made by root (a new user or role, a
//     policy attached or put, a trust policy rewritten, an identity
//     provider added), one incident per target and day.
//
// Calls an AWS service makes on root's behalf (invokedBy, a service name
// or "AWS Internal" as source) and failed calls or sign-ins raise nothing.
// The credential calls access-key-persistence judges (CreateAccessKey,
// CreateLoginProfile, UpdateLoginProfile) are left to it, so a root access
// key is one CRITICAL there and not a second finding here.
type RootAccountUse struct {
	info     detectors.Info
	opts     RootAccountUseOptions
	settings *detectors.Settings
}

// RootAccountUseOptions are the keys under detectors.root-account-use.
type RootAccountUseOptions struct {
	// NetworkHistory is how long a network stays known for an account's
	// root user after root last used it. Root is used rarely, so the
	// history must outlive long gaps. Default 8760h (365 days).
	NetworkHistory time.Duration `yaml:"network_history"`
	// WarmUp is how much history of root use an account needs before a
	// network can be new for its root user: the first root use ever seen
	// has nothing to be new against. Default 24h.
	WarmUp time.Duration `yaml:"warm_up"`
	// FreshFor is how long after root first used a network its use from
	// there stays HIGH. Default 24h.
	FreshFor time.Duration `yaml:"fresh_for"`
}

// DefaultRootAccountUseOptions returns the defaults.
func DefaultRootAccountUseOptions() RootAccountUseOptions {
	return RootAccountUseOptions{NetworkHistory: 365 * 24 * time.Hour, WarmUp: 24 * time.Hour, FreshFor: 24 * time.Hour}
}

// NewRootAccountUse returns the detector configured by cfg.
func NewRootAccountUse(cfg detectors.Config) (detectors.Detector, error) {
	opts := DefaultRootAccountUseOptions()
	if err := cfg.Decode(&opts); err != nil {
		return nil, fmt.Errorf("%s: %w", RootAccountUseID, err)
	}
	switch {
	case opts.NetworkHistory < 7*24*time.Hour:
		return nil, fmt.Errorf("%s: %w", RootAccountUseID, &detectors.OptionError{Key: "network_history",
			Reason: fmt.Sprintf("%v is shorter than 168h", opts.NetworkHistory)})
	case opts.WarmUp < 0 || opts.WarmUp > opts.NetworkHistory:
		return nil, fmt.Errorf("%s: %w", RootAccountUseID, &detectors.OptionError{Key: "warm_up",
			Reason: fmt.Sprintf("%v is not in [0, network_history]", opts.WarmUp)})
	case opts.FreshFor < time.Hour || opts.FreshFor > 30*24*time.Hour:
		return nil, fmt.Errorf("%s: %w", RootAccountUseID, &detectors.OptionError{Key: "fresh_for",
			Reason: fmt.Sprintf("%v is not in [1h, 720h]", opts.FreshFor)})
	}
	return &RootAccountUse{opts: opts, settings: cfg.OrgSettings(), info: detectors.Info{
		ID:    RootAccountUseID,
		Title: "Root user used",
		Description: "The root user of an account signed in to the console or made an API call itself. " +
			"LOW from a trusted network, MEDIUM otherwise (one incident per account, network and day), HIGH from " +
			"a network new for the account's root user or from a hosting, VPN or Tor network, HIGH for a " +
			"persistence change by root (CreateUser, CreateRole, policies attached or put, UpdateAssumeRolePolicy, " +
			"AddUserToGroup, identity providers). Calls AWS services make on root's behalf, failed calls and failed " +
			"sign-ins are quiet; root access keys and passwords are access-key-persistence's.",
		Severity:   detectors.SeverityMedium,
		Techniques: []string{"T1078.004", "T1098"},
	}}, nil
}

// Info implements Detector.
func (d *RootAccountUse) Info() detectors.Info { return d.info }

// Notes implements detectors.Notable.
func (d *RootAccountUse) Notes() []string {
	if d.settings.GeoIP != nil {
		return nil
	}
	return []string{"no GeoIP database configured: root's networks are /16 (IPv4) and /48 (IPv6) prefixes, " +
		"and hosting, VPN and Tor networks are not recognised"}
}

// rootPersistence are the calls by which root leaves a way back in, other
// than the credentials access-key-persistence judges.
var rootPersistence = map[string]bool{
	"CreateUser": true, "CreateRole": true, "AddUserToGroup": true,
	"AttachUserPolicy": true, "AttachRolePolicy": true, "AttachGroupPolicy": true,
	"PutUserPolicy": true, "PutRolePolicy": true, "PutGroupPolicy": true,
	"CreatePolicyVersion": true, "UpdateAssumeRolePolicy": true,
	"CreateSAMLProvider": true, "CreateOpenIDConnectProvider": true,
}

// rootUse is one call by root being judged.
type rootUse struct {
	d        *RootAccountUse
	ev       *detectors.Event
	r        *cloudtrail.Record
	account  string
	network  string // state member: "asn:N", "vpce:…", "net:prefix"; "" when the source places nobody
	label    string // network for explanations
	trusted  string // the trusted CIDR or endpoint, when trusted
	hosting  bool
	target   string // "user/name", "role/name", … for persistence calls
	noMFA    bool   // a console sign-in without MFA
	netFirst detectors.MarkResult
	first    detectors.MarkResult
}

// Observe implements Detector.
func (d *RootAccountUse) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	if r.UserIdentity.Type != "Root" || r.Failed() || r.ServiceCaller() || !d.counts(r) {
		return nil
	}
	u := &rootUse{d: d, ev: ev, r: r, account: r.AccountID()}
	u.place()
	if r.EventSource == "iam.amazonaws.com" && rootPersistence[r.EventName] {
		u.target = rootTarget(r)
	}
	if r.EventName == "ConsoleLogin" {
		var add struct {
			MFAUsed string `json:"MFAUsed"`
		}
		_ = r.Additional(&add) // an odd shape says nothing about MFA
		u.noMFA = add.MFAUsed == "No"
	}
	if u.network != "" {
		u.netFirst = detectors.Mark(b, u.key("net:"+u.network), r.EventTime, state.KeepEarliest, d.opts.NetworkHistory)
		u.first = detectors.Mark(b, u.key("first-seen"), r.EventTime, state.KeepEarliest, d.opts.NetworkHistory)
	}
	return u
}

// counts reports whether r is root use this detector judges: a
// successful console sign-in among sign-in events, any call other than the
// credential calls access-key-persistence judges.
func (d *RootAccountUse) counts(r *cloudtrail.Record) bool {
	if r.EventSource == "signin.amazonaws.com" {
		return r.EventName == "ConsoleLogin" && consoleOutcome(r) == "Success"
	}
	if r.EventSource == "iam.amazonaws.com" {
		_, credential := credentialKinds[r.EventName]
		return !credential
	}
	return true
}

// consoleOutcome reads responseElements.ConsoleLogin ("Success" or
// "Failure"; a failed sign-in carries no errorCode).
func consoleOutcome(r *cloudtrail.Record) string {
	var resp struct {
		ConsoleLogin string `json:"ConsoleLogin"`
	}
	_ = r.Response(&resp) // an odd shape is no success
	return resp.ConsoleLogin
}

func (u *rootUse) key(name string) state.Key { return u.ev.Key("root:"+u.account, name) }

// place names the network of the call.
func (u *rootUse) place() {
	r, s := u.r, u.d.settings
	if t, ok := s.TrustedSource(r); ok {
		u.trusted = t
	}
	switch {
	case r.VPCEndpointID != "":
		u.network, u.label = "vpce:"+r.VPCEndpointID, "VPC endpoint "+r.VPCEndpointID
	case r.SourceIsIP():
		ip := r.SourceIP.Unmap()
		n := s.SourceNetwork(u.ev)
		u.hosting = n.Kind == detectors.NetworkHosting
		if n.Known() {
			asn := strconv.FormatUint(uint64(n.ASN), 10)
			u.network, u.label = "asn:"+asn, "ASN "+asn
			if n.ASNOrg != "" {
				u.label += " (" + n.ASNOrg + ")"
			}
			return
		}
		bits := 16
		if ip.Is6() {
			bits = 48
		}
		p := netip.PrefixFrom(ip, bits).Masked().String()
		u.network, u.label = "net:"+p, p
	}
}

// Findings implements Evaluation.
func (u *rootUse) Findings() ([]detectors.Finding, error) {
	fresh, err := u.fresh()
	if err != nil {
		return nil, err
	}
	if u.target != "" {
		return []detectors.Finding{u.persistence(fresh)}, nil
	}
	return []detectors.Finding{u.use(fresh)}, nil
}

// fresh reports whether the network is new for root: first used no
// earlier than FreshFor before this call, after at least WarmUp of root
// use elsewhere. Marks keep the earliest time, so the answer does not
// depend on the order records of one incident arrive in.
func (u *rootUse) fresh() (bool, error) {
	if u.netFirst == nil || u.trusted != "" {
		return false, nil
	}
	nm, err := u.netFirst.Get()
	if err != nil {
		return false, err
	}
	fm, err := u.first.Get()
	if err != nil {
		return false, err
	}
	t := u.r.EventTime
	netFirst, rootFirst := t, t
	if nm.Set && nm.At.Before(t) {
		netFirst = nm.At
	}
	if fm.Set && fm.At.Before(t) {
		rootFirst = fm.At
	}
	return netFirst.Sub(rootFirst) >= u.d.opts.WarmUp && t.Sub(netFirst) <= u.d.opts.FreshFor, nil
}

func (u *rootUse) use(fresh bool) detectors.Finding {
	day := state.BucketStart(u.r.EventTime, 24*time.Hour)
	network := u.network
	if network == "" {
		network = "source:" + u.r.SourceIPAddress
	}
	var f detectors.Finding
	switch {
	case u.trusted != "":
		f = u.raise(detectors.SeverityLow, 30, "from trusted network "+u.trusted+", as a planned root session would be")
		f.Once = detectors.OncePer(u.key("use:"+day.Format(time.DateOnly)+":"+network), 24*time.Hour)
	case fresh || u.hosting:
		f = u.raise(detectors.SeverityHigh, 80, u.whyNew(fresh))
		f.Once = detectors.OncePer(u.key("new:"+network), u.d.opts.FreshFor)
	default:
		f = u.raise(detectors.SeverityMedium, 55, "from a network root has used before; root needs no day-to-day use")
		f.Once = detectors.OncePer(u.key("use:"+day.Format(time.DateOnly)+":"+network), 24*time.Hour)
	}
	return f
}

func (u *rootUse) whyNew(fresh bool) string {
	switch {
	case fresh && u.hosting:
		return "from a hosting, VPN or Tor network root had never used"
	case fresh:
		return "from a network root had never used before in this account"
	default:
		return "from a hosting, VPN or Tor network, where no one signs in as root by hand"
	}
}

func (u *rootUse) persistence(fresh bool) detectors.Finding {
	score, also := 80, ""
	if fresh || u.hosting {
		score, also = 90, "; "+u.whyNew(fresh)
	}
	f := u.raise(detectors.SeverityHigh, score, fmt.Sprintf("a persistence change on %s: root creating "+
		"principals or granting permissions is how a stolen root login becomes a lasting way in%s", u.target, also))
	f.Evidence["target"] = u.target
	day := state.BucketStart(u.r.EventTime, 24*time.Hour)
	f.Once = detectors.OncePer(u.key("persist:"+day.Format(time.DateOnly)+":"+u.target), 24*time.Hour)
	return f
}

func (u *rootUse) raise(sev detectors.Severity, score int, why string) detectors.Finding {
	f := detectors.NewFinding(u.d.info, u.r, sev, score)
	what := "called " + u.r.EventName
	if u.r.EventName == "ConsoleLogin" {
		what = "signed in to the console"
		if u.noMFA {
			what += " without MFA"
		}
	}
	where := u.r.SourceIPAddress
	if u.label != "" {
		where += " (" + u.label + ")"
	}
	f.Explanation = fmt.Sprintf("the root user of account %s %s from %s: %s", u.account, what, where, why)
	f.Evidence["account"] = u.account
	if u.label != "" {
		f.Evidence["network"] = u.label
	}
	if u.trusted != "" {
		f.Evidence["trusted_network"] = u.trusted
	}
	if u.r.EventName == "ConsoleLogin" {
		f.Evidence["mfa_used"] = strconv.FormatBool(!u.noMFA)
	}
	return f
}

// rootTarget names the principal or provider an IAM persistence call
// changes, as "user/name", "role/name", "group/name" or the provider name.
func rootTarget(r *cloudtrail.Record) string {
	var p struct {
		UserName  string `json:"userName"`
		RoleName  string `json:"roleName"`
		GroupName string `json:"groupName"`
		PolicyARN string `json:"policyArn"`
		Name      string `json:"name"`
		URL       string `json:"url"`
	}
	_ = r.Params(&p) // an odd shape still names the call
	switch {
	case p.UserName != "":
		return "user/" + p.UserName
	case p.RoleName != "":
		return "role/" + p.RoleName
	case p.GroupName != "":
		return "group/" + p.GroupName
	case p.PolicyARN != "":
		return p.PolicyARN
	case p.Name != "":
		return "provider/" + p.Name
	case p.URL != "":
		return "provider/" + p.URL
	}
	return r.EventName
}
