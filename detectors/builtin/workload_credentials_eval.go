package builtin

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// This file holds how workload-credentials-off-workload places a call and
// judges a key's history; workload_credentials.go recognises workloads and
// queues the state.

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

// ofInstance is the origin of an EC2 instance's call. An instance keeps
// its egress address (its own, or its NAT gateway's), so inside AWS its
// network is that address (a /64 for IPv6): another AWS address is
// another instance.
func (s origin) ofInstance() origin {
	switch {
	case s.net.Kind != detectors.NetworkAWS:
	case s.ip.Is4():
		s.member = "aws4:" + s.ip.String()
	default:
		s.member = "aws6:" + netip.PrefixFrom(s.ip, 64).Masked().String()
	}
	return s
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
func (d *WorkloadCredentials) sight(ev *detectors.Event) origin {
	r := ev.Record
	if r.VPCEndpointID != "" {
		acct := r.VPCEndpointAccountID
		if acct != "" && !d.settings.OrgAccount(acct, r.AccountID()) && acct != r.AccountID() {
			return origin{foreignVPCE: acct, member: "vpce:" + acct, label: "VPC endpoint " + r.VPCEndpointID + " of account " + acct}
		}
		return origin{skip: true}
	}
	ip, ok := publicSource(ev, d.settings)
	if !ok {
		return origin{skip: true}
	}
	s := origin{ip: ip, net: d.settings.SourceNetwork(ev)}
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
		s.outside = d.opts.TrustedNetworksAreEgress && d.settings.HasTrustedNetworks()
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
	awsFirst detectors.MarkResult
	offLast  detectors.MarkResult
	once     *detectors.Once

	pipeline    *state.Future[[]byte] // the signer-in when the role is a pipeline's
	pipelineNet *state.Future[[]byte] // set when a pipeline sign-in came from this network
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
	if kind == "" {
		s, why, err := u.offPipeline()
		if err != nil {
			return nil, err
		}
		if why != "" {
			kind = "pipeline"
			raise(s, why)
		}
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
	"pipeline": "a pipeline",
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
