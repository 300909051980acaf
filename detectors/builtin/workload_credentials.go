package builtin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// WorkloadCredentialsID is the stable id of the workload-credentials
// detector.
const WorkloadCredentialsID = "workload-credentials-off-workload"

// WorkloadCredentialsOptions are the detector's keys under
// detectors.workload-credentials-off-workload.
type WorkloadCredentialsOptions struct {
	// FallbackSeverity is the severity of what the detector can only tell
	// without an ASN for the source: a workload session from a public
	// address outside trusted_networks, or a workload's key moving to a
	// second /16.
	FallbackSeverity detectors.Severity `yaml:"fallback_severity"`
	// LearnFor is how long a Lambda function's session name stays known as
	// the function's after lambda.amazonaws.com was last seen assuming its
	// role under that name.
	LearnFor time.Duration `yaml:"learn_for"`
	// KeyLifetime is how long the networks a temporary key was used from
	// are remembered: at least the longest session (12 hours for roles,
	// 36 hours for GetSessionToken).
	KeyLifetime time.Duration `yaml:"key_lifetime"`
}

// DefaultWorkloadCredentialsOptions returns the defaults.
func DefaultWorkloadCredentialsOptions() WorkloadCredentialsOptions {
	return WorkloadCredentialsOptions{
		FallbackSeverity: detectors.SeverityMedium,
		LearnFor:         30 * 24 * time.Hour,
		KeyLifetime:      36 * time.Hour,
	}
}

func (o WorkloadCredentialsOptions) validate() error {
	var errs []error
	if o.FallbackSeverity < detectors.SeverityInfo || o.FallbackSeverity > detectors.SeverityCritical {
		errs = append(errs, &detectors.OptionError{Key: "fallback_severity", Reason: "must be INFO, LOW, MEDIUM, HIGH or CRITICAL"})
	}
	if o.LearnFor < time.Hour {
		errs = append(errs, &detectors.OptionError{Key: "learn_for", Reason: "must be at least 1h"})
	}
	if o.KeyLifetime < time.Hour {
		errs = append(errs, &detectors.OptionError{Key: "key_lifetime", Reason: "must be at least 1h"})
	}
	return errors.Join(errs...)
}

// WorkloadCredentials raises when the credentials of a workload (an EC2
// instance profile, a Lambda function, an ECS task, an EKS pod) are used
// away from the workload, GuardDuty's InstanceCredentialExfiltration
// OutsideAWS and InsideAWS findings rebuilt on CloudTrail alone:
//
//   - a workload session called from a network that is not AWS's (by ASN),
//     HIGH at once: a workload runs on AWS, so there is nothing to learn;
//   - a workload session called through a VPC endpoint owned by an account
//     outside accounts: the attacker's own VPC, HIGH;
//   - a temporary key (ASIA…) first used from AWS and then from another
//     network (another ASN; for an EC2 instance, another AWS address of the
//     same family, since an instance keeps its egress address), HIGH.
//
// A session is a workload's when its record says so (an EC2 instance id as
// session name, an AWS_Lambda_ or AWS_ECS_ execution environment in the user
// agent) or when an AWS service was seen issuing it (AssumeRole by ec2,
// lambda, ecs-tasks or pods.eks; AssumeRoleWithWebIdentity from an EKS OIDC
// provider), which the detector keeps per role and session name: a person
// assuming a Lambda's role by hand, under another session name, is not the
// Lambda. A Lambda's name is kept for LearnFor, other sessions' for
// KeyLifetime. People's
// sessions (IAM Identity Center, console, SAML sessions named by e-mail,
// Cognito) are left to access-key-new-location.
type WorkloadCredentials struct {
	info     detectors.Info
	opts     WorkloadCredentialsOptions
	settings *detectors.Settings
}

// NewWorkloadCredentials builds the detector from cfg.
func NewWorkloadCredentials(cfg detectors.Config) (detectors.Detector, error) {
	opts := DefaultWorkloadCredentialsOptions()
	if err := cfg.Decode(&opts); err != nil {
		return nil, err
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &WorkloadCredentials{opts: opts, settings: cfg.OrgSettings(), info: detectors.Info{
		ID:    WorkloadCredentialsID,
		Title: "Workload credentials used away from their workload",
		Description: "The temporary credentials of an EC2 instance, Lambda function, ECS task or EKS pod are used " +
			"from a network that is not AWS's, through a VPC endpoint of an account outside the organisation, or " +
			"from a second network after their first use inside AWS: stolen from the instance metadata service, " +
			"the environment or a container and replayed elsewhere. No warm-up: workloads run on AWS.",
		Severity:   detectors.SeverityHigh,
		Techniques: []string{"T1552.005", "T1078.004"},
	}}, nil
}

// Info implements Detector.
func (d *WorkloadCredentials) Info() detectors.Info { return d.info }

// Notes implements Notable: without an ASN database the detector cannot
// tell AWS's networks from others.
func (d *WorkloadCredentials) Notes() []string {
	if d.settings.GeoIP != nil {
		return nil
	}
	n := "no ASN database configured (geoip.asn_db): AWS networks cannot be recognised; workload keys moving to a " +
		"second /16 and foreign VPC endpoints still raise"
	if d.settings.HasTrustedNetworks() {
		n += fmt.Sprintf(", and a workload session from a public address outside trusted_networks raises at %v", d.opts.FallbackSeverity)
	} else {
		n += "; list your egress addresses in trusted_networks to catch a workload session's first use outside them"
	}
	return []string{n}
}

// workloadByService maps the AWS services that assume roles for a workload
// to the workload's kind.
var workloadByService = map[string]string{
	"ec2.amazonaws.com":       "ec2",
	"lambda.amazonaws.com":    "lambda",
	"ecs-tasks.amazonaws.com": "ecs",
	"pods.eks.amazonaws.com":  "eks",
}

// agentChannel are the SSM agent's message channels: their records
// describe the agent's connection (and, for Session Manager, may carry the
// address of the other end), not an API call made with the credentials.
// Panther's IMDS exfiltration rule skips them too.
var agentChannel = map[string]bool{"ssmmessages.amazonaws.com": true, "ec2messages.amazonaws.com": true}

// instanceID is the session name EC2 gives instance-profile sessions.
var instanceID = regexp.MustCompile(`^i-[0-9a-fA-F]{8,17}$`)

// Observe implements Detector.
func (d *WorkloadCredentials) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	if r.EventSource == "sts.amazonaws.com" && !r.Failed() {
		if kind, role, name := serviceAssumption(r); kind != "" {
			return d.learn(ev, b, kind, role, name)
		}
	}
	if r.Failed() && unauthenticated[r.ErrorCode] || r.ServiceCaller() || humanSession(r) || agentChannel[r.EventSource] {
		return nil
	}
	u := &r.UserIdentity
	temporary := strings.HasPrefix(u.AccessKeyID, "ASIA")
	role := ""
	if u.Type == "AssumedRole" && u.SessionIssuer.Type == "Role" {
		role = u.SessionIssuer.ARN
	}
	if !temporary && role == "" {
		return nil
	}
	s := d.sight(r)
	if s.skip {
		return nil
	}
	u2 := &use{d: d, r: r, s: s, kind: recordKind(r), temporary: temporary}
	if role != "" {
		name := roleSessionName(u)
		u2.learned = b.Get(roleKey(ev, role, "wl:kind:"+name))
		if u2.kind == "" && s.away() {
			u2.pending = b.Put(roleKey(ev, role, "wl:pending:"+name), s.pendingValue(r), d.opts.KeyLifetime)
		}
	}
	if u2.kind == "ec2" && s.net.Kind == detectors.NetworkAWS {
		// An instance keeps its egress address (its own, or its NAT
		// gateway's): another AWS address is another instance.
		if s.ip.Is4() {
			s.member = "aws4:" + s.ip.String()
		} else {
			s.member = "aws6:" + netip.PrefixFrom(s.ip, 64).Masked().String()
		}
		u2.s = s
	}
	if temporary && s.member != "" {
		d.queueKey(ev, b, u2)
	}
	u2.once = detectors.OncePer(ev.Key("key:"+u.AccessKeyID, "wl:raised"), d.opts.KeyLifetime)
	if u.AccessKeyID == "" {
		u2.once = detectors.OncePer(ev.Key("principal:"+r.StablePrincipal(), "wl:raised:"+s.ip.String()), time.Hour)
	}
	return u2
}

// queueKey queues the key's network history: the networks it was used
// from, the first time it was used inside AWS and the last time outside.
func (d *WorkloadCredentials) queueKey(ev *detectors.Event, b *state.Batch, u *use) {
	r, ak := u.r, u.r.UserIdentity.AccessKeyID
	k := func(name string) state.Key { return ev.Key("key:"+ak, name) }
	span := state.Span{From: r.EventTime.Add(-d.opts.KeyLifetime), To: r.EventTime.Add(d.opts.KeyLifetime)}
	u.nets = b.WindowAddRead(k("wl:nets"), u.s.member, r.EventTime, span, 16, d.opts.KeyLifetime)
	switch {
	case u.s.net.Kind == detectors.NetworkAWS:
		u.awsFirst = b.Mark(k("wl:aws-first"), r.EventTime, state.KeepEarliest, d.opts.KeyLifetime)
		u.offLast = b.ReadMark(k("wl:off-last"))
	case u.s.away() && !u.s.outside:
		u.awsFirst = b.ReadMark(k("wl:aws-first"))
		u.offLast = b.Mark(k("wl:off-last"), r.EventTime, state.KeepLatest, d.opts.KeyLifetime)
	}
}

// serviceAssumption returns the workload kind, role ARN and session name of
// an AssumeRole by an AWS service for a workload, or "".
func serviceAssumption(r *cloudtrail.Record) (kind, role, name string) {
	u := &r.UserIdentity
	switch {
	case r.EventName == "AssumeRole" && u.Type == "AWSService":
		kind = workloadByService[u.InvokedBy]
		if kind == "" {
			kind = workloadByService[r.SourceIPAddress]
		}
	case r.EventName == "AssumeRoleWithWebIdentity" && strings.Contains(u.PrincipalID+u.UserName, "oidc.eks."):
		kind = "eks"
	}
	if kind == "" {
		return "", "", ""
	}
	var p struct {
		RoleArn         string `json:"roleArn"`
		RoleSessionName string `json:"roleSessionName"`
	}
	if err := r.Params(&p); err != nil || detectors.RoleNameFromARN(p.RoleArn) == "" || p.RoleSessionName == "" {
		return "", "", ""
	}
	return kind, p.RoleArn, p.RoleSessionName
}

// roleKey keys what the detector knows about a role by account and name,
// so that the role ARN of an AssumeRole (with path) and the session
// issuer of a session (with path) meet however the path is written.
func roleKey(ev *detectors.Event, roleARN, name string) state.Key {
	account := ""
	if parts := strings.SplitN(roleARN, ":", 6); len(parts) == 6 {
		account = parts[4]
	}
	return ev.Key("role:"+account+":"+detectors.RoleNameFromARN(roleARN), name)
}

// humanSession reports whether r is a person's session, which the location
// detector judges: IAM Identity Center, the console, SAML sessions named by
// e-mail, Cognito identities, and MFA-authenticated session tokens.
func humanSession(r *cloudtrail.Record) bool {
	u := &r.UserIdentity
	if r.SessionCredentialFromConsole || u.Type == "SAMLUser" || u.Type == "WebIdentityUser" || u.Type == "IdentityCenterUser" {
		return true
	}
	if strings.HasPrefix(detectors.RoleNameFromARN(u.SessionIssuer.ARN), "AWSReservedSSO_") {
		return true
	}
	if u.Type == "IAMUser" && u.MFAAuthenticated {
		return true
	}
	name := roleSessionName(u)
	return strings.Contains(name, "@") || name == "CognitoIdentityCredentials"
}

// roleSessionName is the role session name of an assumed-role session.
func roleSessionName(u *cloudtrail.UserIdentity) string {
	if u.Type != "AssumedRole" {
		return ""
	}
	if i := strings.LastIndexByte(u.ARN, '/'); i >= 0 {
		return u.ARN[i+1:]
	}
	if _, after, ok := strings.Cut(u.PrincipalID, ":"); ok {
		return after
	}
	return ""
}

// recordKind recognises a workload session from the record alone.
func recordKind(r *cloudtrail.Record) string {
	u := &r.UserIdentity
	if u.Type != "AssumedRole" {
		return ""
	}
	_, pid, _ := strings.Cut(u.PrincipalID, ":")
	if instanceID.MatchString(roleSessionName(u)) || instanceID.MatchString(pid) {
		return "ec2"
	}
	switch {
	case strings.Contains(r.UserAgent, "exec-env/AWS_Lambda_"):
		return "lambda"
	case strings.Contains(r.UserAgent, "exec-env/AWS_ECS_"):
		return "ecs"
	}
	return ""
}

// pendingUse is what a use by an unrecognised session away from AWS leaves
// on its role, so that an AssumeRole by a service that arrives later (out
// of order) still raises on it.
type pendingUse struct {
	Key     string    `json:"k"`
	IP      string    `json:"ip"`
	Net     string    `json:"n"`
	Event   string    `json:"e"`
	At      time.Time `json:"t"`
	Reason  string    `json:"r"`
	Outside bool      `json:"o,omitempty"` // placed only by trusted_networks, no ASN
}

func (s origin) pendingValue(r *cloudtrail.Record) []byte {
	b, _ := json.Marshal(pendingUse{Key: r.UserIdentity.AccessKeyID, IP: r.SourceIPAddress, Net: s.label,
		Event: r.EventSource + ":" + r.EventName, At: r.EventTime, Reason: s.reason(), Outside: s.outside && s.foreignVPCE == ""})
	return b
}

// learn records that a service assumed role for a workload of kind, and
// raises on a use of the role away from AWS that was scored before this
// record (delivery out of order).
func (d *WorkloadCredentials) learn(ev *detectors.Event, b *state.Batch, kind, role, name string) detectors.Evaluation {
	// A Lambda function's sessions keep its name for as long as it exists;
	// the other services name each session afresh (instance, task, pod),
	// so what is learned of them lives as long as a key.
	ttl := d.opts.KeyLifetime
	if kind == "lambda" {
		ttl = d.opts.LearnFor
	}
	b.Put(roleKey(ev, role, "wl:kind:"+name), []byte(kind), ttl)
	pending := b.Get(roleKey(ev, role, "wl:pending:"+name))
	r := ev.Record
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		raw, err := pending.Get()
		if err != nil || len(raw) == 0 {
			return nil, err
		}
		var p pendingUse
		if json.Unmarshal(raw, &p) != nil || p.At.Before(r.EventTime) || p.At.Sub(r.EventTime) > d.opts.KeyLifetime {
			return nil, nil
		}
		sev := detectors.SeverityHigh
		if p.Outside {
			if kind == "lambda" {
				return nil, nil // see origin.awayFor
			}
			sev = d.opts.FallbackSeverity
		}
		f := detectors.NewFinding(d.info, r, sev, scoreOf(sev))
		f.PrincipalARN, f.AccessKeyID, f.SourceIP = role, p.Key, p.IP
		f.Evidence = map[string]string{"workload": kind, "role": role, "source_ip": p.IP, "network": p.Net,
			"used_at": p.At.Format(time.RFC3339), "used_for": p.Event, "learned_from": r.EventName + " by " + kind}
		f.Explanation = fmt.Sprintf("%s is a %s role (%s assumed it at %s); its key %s was used for %s at %s from %s (%s): %s",
			role, kind, kind, r.EventTime.Format(time.RFC3339), p.Key, p.Event, p.At.Format(time.RFC3339), p.IP, p.Net, p.Reason)
		key := "key:" + p.Key
		if p.Key == "" {
			key = "principal:" + role
		}
		f.Once = detectors.OncePer(ev.Key(key, "wl:raised"), d.opts.KeyLifetime)
		return []detectors.Finding{f}, nil
	})
}

func scoreOf(sev detectors.Severity) int {
	if sev >= detectors.SeverityHigh {
		return 85
	}
	return 55
}

// origin is where one call came from, as the detector classifies it.
type origin struct {
	skip        bool              // nothing to judge: private without endpoint, own endpoint, trusted
	ip          netip.Addr        // the public source, when there is one
	net         detectors.Network // its classification
	foreignVPCE string            // the account owning the endpoint, when not the organisation's
	outside     bool              // no ASN known, trusted networks configured, and the source is outside them
	member      string            // the key's network: "aws4:…", "asn:N", "net:…/16"; "" when none
	label       string            // for explanations
}

// away reports whether the sighting by itself puts a workload session off
// its workload.
func (s origin) away() bool {
	return s.foreignVPCE != "" || s.outside ||
		(s.net.Known() && s.net.Kind != detectors.NetworkAWS)
}

// awayFor is away for a workload of kind. Without an ASN, an address
// outside trusted_networks says nothing about a Lambda function: outside a
// VPC it leaves from AWS addresses nobody can list.
func (s origin) awayFor(kind string) bool {
	if s.outside && kind == "lambda" {
		return false
	}
	return s.away()
}

func (s origin) reason() string {
	switch {
	case s.foreignVPCE != "":
		return "through a VPC endpoint of account " + s.foreignVPCE + ", which is not one of the organisation's"
	case s.outside:
		return "outside trusted_networks, and no ASN database to place it"
	}
	if s.net.Kind == detectors.NetworkHosting {
		return "a hosting, VPN or Tor network, not AWS's"
	}
	return "a network that is not AWS's"
}

// sight classifies the source of r.
func (d *WorkloadCredentials) sight(r *cloudtrail.Record) origin {
	if r.VPCEndpointID != "" {
		acct := r.VPCEndpointAccountID
		if acct != "" && !d.settings.OrgAccount(acct, r.AccountID()) && acct != r.AccountID() {
			return origin{foreignVPCE: acct, member: "vpce:" + acct, label: "VPC endpoint " + r.VPCEndpointID + " of account " + acct}
		}
		return origin{skip: true}
	}
	ip, ok := publicSource(r, d.settings)
	if !ok {
		return origin{skip: true}
	}
	s := origin{ip: ip, net: d.settings.Network(ip)}
	switch {
	case s.net.Kind == detectors.NetworkAWS:
		s.member, s.label = "aws", "AWS ASN "+strconv.FormatUint(uint64(s.net.ASN), 10)
	case s.net.Known():
		s.member = "asn:" + strconv.FormatUint(uint64(s.net.ASN), 10)
		s.label = "ASN " + strconv.FormatUint(uint64(s.net.ASN), 10)
		if s.net.ASNOrg != "" {
			s.label += " (" + s.net.ASNOrg + ")"
		}
	default:
		bits := 16
		if ip.Is6() {
			bits = 32
		}
		s.member = "net:" + netip.PrefixFrom(ip, bits).Masked().String()
		s.label = "network " + strings.TrimPrefix(s.member, "net:") + " (no ASN known)"
		s.outside = d.settings.HasTrustedNetworks()
	}
	return s
}

// use is one call with temporary or workload credentials, being evaluated.
type use struct {
	d         *WorkloadCredentials
	r         *cloudtrail.Record
	s         origin
	kind      string // from the record; "" when only state can tell
	temporary bool

	learned  *state.Future[[]byte]
	pending  *state.Future[struct{}]
	nets     *state.Future[state.Window]
	awsFirst *state.Future[state.Mark]
	offLast  *state.Future[state.Mark]
	once     *detectors.Once
}

// Findings implements Evaluation.
func (u *use) Findings() ([]detectors.Finding, error) {
	kind, err := u.workloadKind()
	if err != nil {
		return nil, err
	}
	var reasons []string
	sev := detectors.SeverityUnknown
	raise := func(s detectors.Severity, why string) {
		reasons = append(reasons, why)
		sev = max(sev, s)
	}
	if kind != "" && u.s.awayFor(kind) {
		s := detectors.SeverityHigh
		if u.s.outside {
			s = u.d.opts.FallbackSeverity
		}
		raise(s, kindLabel[kind]+"'s session used from "+u.s.reason())
	}
	moved, err := u.moved(kind)
	if err != nil {
		return nil, err
	}
	if moved.why != "" {
		raise(moved.sev, moved.why)
	}
	if len(reasons) == 0 {
		return nil, nil
	}
	return []detectors.Finding{u.finding(kind, sev, reasons, moved.others)}, nil
}

func (u *use) workloadKind() (string, error) {
	if u.pending != nil {
		if _, err := u.pending.Get(); err != nil {
			return "", err
		}
	}
	if u.kind != "" || u.learned == nil {
		return u.kind, nil
	}
	v, err := u.learned.Get()
	return string(v), err
}

// movement is what the key's history says about this use.
type movement struct {
	sev    detectors.Severity
	why    string
	others []string // the key's other networks
}

// moved judges the key's history: first inside AWS and now (or, for a
// record scored late, afterwards) elsewhere; an instance's key at a second
// AWS address; or, without ASNs, a workload key at a second /16.
func (u *use) moved(kind string) (movement, error) {
	if u.nets == nil {
		return movement{}, nil
	}
	w, err := u.nets.Get()
	if err != nil {
		return movement{}, err
	}
	var m movement
	for _, n := range w.Members {
		if n != u.s.member {
			m.others = append(m.others, n)
		}
	}
	if len(m.others) == 0 {
		return m, nil
	}
	var first, last state.Mark
	if u.awsFirst != nil {
		if first, err = u.awsFirst.Get(); err != nil {
			return m, err
		}
		if last, err = u.offLast.Get(); err != nil {
			return m, err
		}
	}
	t := u.r.EventTime
	switch {
	case u.s.net.Kind == detectors.NetworkAWS:
		if last.Set && !last.At.Before(t) {
			m.sev, m.why = detectors.SeverityHigh, "the key was first used inside AWS and later from another network"
		} else if kind == "ec2" && sameFamily(u.s.member, m.others) {
			m.sev, m.why = detectors.SeverityHigh, "an EC2 instance's key used from a second AWS address: another instance holds it"
		}
	case u.s.away():
		if first.Set && !first.At.After(t) {
			m.sev, m.why = detectors.SeverityHigh, "the key was first used inside AWS and now from another network"
		}
	case kind != "" && kind != "lambda":
		m.sev, m.why = u.d.opts.FallbackSeverity, kindLabel[kind]+"'s key used from a second network (no ASN database to tell AWS's)"
	}
	return m, nil
}

// sameFamily reports whether others holds another AWS address of member's
// IP family ("aws4:…" or "aws6:…").
func sameFamily(member string, others []string) bool {
	fam, _, ok := strings.Cut(member, ":")
	if !ok || !strings.HasPrefix(fam, "aws") {
		return false
	}
	for _, o := range others {
		if strings.HasPrefix(o, fam+":") {
			return true
		}
	}
	return false
}

func (u *use) finding(kind string, sev detectors.Severity, reasons, others []string) detectors.Finding {
	r := u.r
	f := detectors.NewFinding(u.d.info, r, sev, scoreOf(sev))
	who := r.UserIdentity.ARN
	if kind != "" {
		f.Evidence["workload"] = kind
	}
	if u.s.ip.IsValid() {
		f.Evidence["asn"] = strconv.FormatUint(uint64(u.s.net.ASN), 10)
		f.Evidence["network_kind"] = u.s.net.Kind.String()
	}
	if u.s.foreignVPCE != "" {
		f.Evidence["vpc_endpoint"] = r.VPCEndpointID
		f.Evidence["vpc_endpoint_account"] = u.s.foreignVPCE
	}
	f.Evidence["network"] = u.s.label
	var seen []string
	for _, o := range others {
		seen = append(seen, memberLabel(o))
	}
	if len(others) > 0 {
		f.Evidence["other_networks"] = strings.Join(seen, ", ")
	}
	f.Evidence["reason"] = strings.Join(reasons, "; ")
	f.Explanation = fmt.Sprintf("%s (key %s) called %s:%s from %s (%s): %s",
		who, r.UserIdentity.AccessKeyID, r.EventSource, r.EventName, r.SourceIPAddress, u.s.label, strings.Join(reasons, "; "))
	if len(others) > 0 {
		f.Explanation += "; the key was also used from " + strings.Join(seen, ", ")
	}
	f.Once = u.once
	return f
}

// kindLabel names a workload kind for explanations.
var kindLabel = map[string]string{
	"ec2": "an EC2 instance", "lambda": "a Lambda function", "ecs": "an ECS task", "eks": "an EKS pod",
}

// memberLabel renders a key's network member for people.
func memberLabel(m string) string {
	kind, v, _ := strings.Cut(m, ":")
	switch kind {
	case "aws":
		return "AWS"
	case "aws4", "aws6":
		return "AWS address " + v
	case "asn":
		return "ASN " + v
	case "vpce":
		return "a VPC endpoint of account " + v
	}
	return "network " + v
}
