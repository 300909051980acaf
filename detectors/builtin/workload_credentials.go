package builtin

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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
	// TrustedNetworksAreEgress says trusted_networks list every public
	// address the organisation's workloads call AWS from (NAT gateways,
	// Elastic IPs, proxies): without an ASN database, a workload session
	// from any other public address then raises at fallback_severity. Off
	// by default: an instance with a public address calls from an AWS
	// address nobody lists.
	TrustedNetworksAreEgress bool `yaml:"trusted_networks_are_egress"`
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
//     same family, since an instance keeps its egress address), HIGH;
//   - a session of a pipeline's role (AssumeRoleWithWebIdentity by an OIDC
//     provider other than EKS's) used from a network none of the
//     pipeline's sign-ins came from in LearnFor, HIGH
//     (workload_credentials_pipeline.go).
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
			"the environment or a container and replayed elsewhere. No warm-up: workloads run on AWS. A session of a " +
			"pipeline's role (signed in to by web identity, not EKS) used from a network none of the pipeline's sign-ins " +
			"came from in the last " + detectors.Days(opts.LearnFor) + " is HIGH too: a CI token replayed off its runners.",
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
	if d.settings.HasTrustedNetworks() && d.opts.TrustedNetworksAreEgress {
		n += fmt.Sprintf(", and a workload session from a public address outside trusted_networks raises at %v", d.opts.FallbackSeverity)
	} else {
		n += "; list every workload egress address in trusted_networks and set trusted_networks_are_egress to catch a workload session's first use outside them"
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
		if kind, role, name := serviceAssumption(ev); kind != "" {
			return d.learn(ev, b, kind, role, name)
		}
		if role, provider := pipelineRole(ev); role != "" {
			d.learnPipeline(ev, b, role, provider)
			return nil
		}
	}
	// What the credentials are first: a long-term key's call that is no
	// role's is skipped for two compares, before the person and channel
	// tests.
	u := &r.UserIdentity
	temporary := strings.HasPrefix(u.AccessKeyID, "ASIA")
	role := ""
	if u.Type == "AssumedRole" && u.SessionIssuer.Type == "Role" {
		role = u.SessionIssuer.ARN
	}
	if !temporary && role == "" {
		return nil
	}
	if r.Failed() && unauthenticatedCall(r.ErrorCode) || r.ServiceCaller() || ev.HumanSession() || agentChannel[r.EventSource] {
		return nil
	}
	s := d.sight(ev)
	if s.skip {
		return nil
	}
	u2 := uses.New(ev)
	*u2 = use{d: d, r: r, s: s, kind: recordKind(r), temporary: temporary}
	if role != "" {
		name := detectors.RoleSessionName(r)
		u2.learned = b.Get(roleKey(ev, role, "wl:kind:"+name))
		if u2.kind == "" && s.away() {
			u2.pending = b.Put(roleKey(ev, role, "wl:pending:"+name), s.pendingValue(r), d.opts.KeyLifetime)
			u2.queuePipeline(ev, b, role)
		}
	}
	if u2.kind == "ec2" {
		u2.s = s.ofInstance()
	}
	if temporary && u2.s.member != "" {
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
		u.awsFirst = detectors.Mark(b, k("wl:aws-first"), r.EventTime, state.KeepEarliest, d.opts.KeyLifetime)
		u.offLast = detectors.ReadMark(b, k("wl:off-last"))
	case u.s.away() && !u.s.outside:
		u.awsFirst = detectors.ReadMark(b, k("wl:aws-first"))
		u.offLast = detectors.Mark(b, k("wl:off-last"), r.EventTime, state.KeepLatest, d.opts.KeyLifetime)
	}
}

// serviceAssumption returns the workload kind, role ARN and session name of
// an AssumeRole by an AWS service for a workload, or "".
func serviceAssumption(ev *detectors.Event) (kind, role, name string) {
	r := ev.Record
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
	type params struct {
		RoleArn         string `json:"roleArn"`
		RoleSessionName string `json:"roleSessionName"`
	}
	var p params
	var err error
	if q, ok := ev.RoleRequest(); ok {
		p.RoleArn, p.RoleSessionName = q.RoleARN, q.RoleSessionName
	} else {
		p, err = ownParams[params](r)
	}
	if err != nil || detectors.RoleNameFromARN(p.RoleArn) == "" || p.RoleSessionName == "" {
		return "", "", ""
	}
	return kind, p.RoleArn, p.RoleSessionName
}

// roleKey keys what the detector knows about a role by account and name,
// so that the role ARN of an AssumeRole (with path) and the session
// issuer of a session (with path) meet however the path is written.
func roleKey(ev *detectors.Event, roleARN, name string) state.Key {
	return ev.Key(roleIdentities.get(roleARN), name)
}

// roleIdentities remembers the identity roleKey keys a role ARN by: a
// role's sessions call record after record, and splitting and joining
// its ARN allocated on each.
var roleIdentities = newStringMemo(func(roleARN string) string {
	account := ""
	if parts := strings.SplitN(roleARN, ":", 6); len(parts) == 6 {
		account = parts[4]
	}
	return "role:" + account + ":" + detectors.RoleNameFromARN(roleARN)
})

// recordKind recognises a workload session from the record alone.
func recordKind(r *cloudtrail.Record) string {
	u := &r.UserIdentity
	if u.Type != "AssumedRole" {
		return ""
	}
	_, pid, _ := strings.Cut(u.PrincipalID, ":")
	if instanceID.MatchString(detectors.RoleSessionName(r)) || instanceID.MatchString(pid) {
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
	// The two key names are carved from the batch's arena, the kind's
	// bytes are shared and the evaluation comes from a slab: a role's
	// services assume it record after record, and each was an allocation.
	var buf [160]byte
	b.Put(roleKey(ev, role, ev.String(append(append(buf[:0], "wl:kind:"...), name...))), kindValue(kind), ttl)
	l := learnedWorkloads.New(ev)
	*l = learnedWorkload{d: d, ev: ev, kind: kind, role: role,
		pending: b.Get(roleKey(ev, role, ev.String(append(append(buf[:0], "wl:pending:"...), name...))))}
	return l
}

// learnedWorkload is a service's assumption of a role for a workload being
// evaluated: it raises on a use of the role away from AWS that was scored
// before it (see learn).
type learnedWorkload struct {
	d          *WorkloadCredentials
	ev         *detectors.Event
	kind, role string
	pending    *state.Future[[]byte]
}

// kindValue is what learn stores for kind: the bytes of the few kinds
// there are, shared (stores copy what they keep and never write a value
// they are given), else kind's own.
func kindValue(kind string) []byte {
	switch kind {
	case "ec2":
		return kindEC2
	case "lambda":
		return kindLambda
	case "ecs":
		return kindECS
	case "eks":
		return kindEKS
	}
	return []byte(kind)
}

var kindEC2, kindLambda, kindECS, kindEKS = []byte("ec2"), []byte("lambda"), []byte("ecs"), []byte("eks")

// Findings implements detectors.Evaluation.
func (l *learnedWorkload) Findings() ([]detectors.Finding, error) {
	d, ev, kind, role := l.d, l.ev, l.kind, l.role
	r := ev.Record
	raw, err := l.pending.Get()
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
}

func scoreOf(sev detectors.Severity) int {
	if sev >= detectors.SeverityHigh {
		return 85
	}
	return 55
}
