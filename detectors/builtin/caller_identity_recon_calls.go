package builtin

import (
	"net/netip"
	"strings"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
)

// What caller-identity-recon reads in a record: whether the call is an
// identity probe, discovery, or sensitive discovery; whose it is; and the
// network it came from.

// reconKind is what a call means to caller-identity-recon.
type reconKind int

const (
	reconNone      reconKind = iota
	reconProbe               // who am I: the caller's own identity
	reconDiscovery           // what is there: List/Describe/Get of resources
	reconSensitive           // discovery of what grants or guards access
)

// sensitiveService reports whether svc is one of the services whose
// discovery reads are about access itself: identities and their
// permissions, secrets, keys, the organisation and its single sign-on. A
// switch rather than a map: every discovery call asks (117k on the month),
// and a lookup hashed the service name.
func sensitiveService(svc string) bool {
	switch svc {
	case "iam", "secretsmanager", "kms", "organizations", "sso", "identitystore", "sso-directory", "access-analyzer":
		return true
	}
	return false
}

// dataReads are Get calls that read data, not the shape of the account:
// they say nothing about discovery and are frequent in scripts.
// They are keyed by eventSource and eventName apart, so a lookup builds no
// string: every Get call of the traffic asks. All are Get calls
// (classifyRecon relies on it, and a test holds it).
var dataReads = map[apiCall]bool{
	{"s3.amazonaws.com", "GetObject"}: true, {"s3.amazonaws.com", "GetObjectTagging"}: true,
	{"s3.amazonaws.com", "GetObjectAcl"}: true, {"s3.amazonaws.com", "GetObjectAttributes"}: true,
	{"dynamodb.amazonaws.com", "GetItem"}: true, {"kinesis.amazonaws.com", "GetRecords"}: true,
	{"sqs.amazonaws.com", "GetQueueUrl"}: true, {"logs.amazonaws.com", "GetLogEvents"}: true,
}

// apiCall is a call by eventSource and eventName.
type apiCall struct{ source, name string }

// classifyRecon says what r means to caller-identity-recon.
//
// Identity probes are the calls that answer "whose credentials are
// these": sts:GetCallerIdentity, sts:GetAccessKeyInfo (the account owning
// a key) and iam:GetUser naming no user or the caller itself. Listing the
// caller's own policies (iam:ListAttachedUserPolicies on self) answers
// "what may I do": it is sensitive discovery, not a probe, so it completes
// a pair instead of starting one.
//
// Discovery is any List*, Describe* or Get* call outside STS, except reads
// of data (s3:GetObject and the like); it is sensitive on the services of
// sensitiveService and when it lists SSM parameters (DescribeParameters,
// GetParametersByPath: where configuration keeps its secrets). Reading one
// named parameter is what applications and developers do all day.
func classifyRecon(r *cloudtrail.Record) reconKind {
	name := r.EventName
	switch r.EventSource {
	case "sts.amazonaws.com":
		if name == "GetCallerIdentity" || name == "GetAccessKeyInfo" {
			return reconProbe
		}
		return reconNone
	case "iam.amazonaws.com":
		if name == "GetUser" && getUserOnSelf(r) {
			return reconProbe
		}
	}
	if !strings.HasPrefix(name, "List") && !strings.HasPrefix(name, "Describe") && !strings.HasPrefix(name, "Get") {
		return reconNone
	}
	// Every data read is a Get: List and Describe calls (more than half
	// of discovery) skip hashing the two strings.
	if name[0] == 'G' && dataReads[apiCall{r.EventSource, name}] {
		return reconNone
	}
	svc := serviceOf(r.EventSource)
	if sensitiveService(svc) || (svc == "ssm" && (name == "DescribeParameters" || name == "GetParametersByPath")) {
		return reconSensitive
	}
	return reconDiscovery
}

// getUserOnSelf reports whether an iam:GetUser call names no user (AWS
// answers with the caller) or the caller's own user name. Parameters that
// do not decode count as naming someone else: a probe must be shown.
func getUserOnSelf(r *cloudtrail.Record) bool {
	if len(r.RequestParameters) == 0 {
		return true
	}
	var p struct {
		UserName string `json:"userName"`
	}
	if err := r.Params(&p); err != nil {
		return false
	}
	return p.UserName == "" || p.UserName == r.UserIdentity.UserName
}

// reconPrincipal is the state identity caller-identity-recon keys a caller
// on: its stable principal (the IAM user across its keys, the role across
// its sessions), or the access key when the record names no principal.
func reconPrincipal(ev *detectors.Event) string {
	r := ev.Record
	// A person's session of a shared role is the person's: see
	// detectors.HabitPrincipal.
	if p := ev.HabitPrincipal(); p != "" {
		return principalIdentity(ev, p)
	}
	if ak := r.UserIdentity.AccessKeyID; ak != "" {
		return keyIdentity(ak)
	}
	return ""
}

// reconASNs remembers the networks named by ASN ("asn:N").
var reconASNs = uintMemo{prefix: "asn:"}

// reconNetwork names the network r came from, for the principal's learned
// networks: "asn:N" with a GeoIP ASN database, else the /16 (IPv4) or /32
// (IPv6) prefix; "vpce:ID" through a VPC endpoint, "private" from private
// addresses. It returns "" when the source places nobody (an AWS service,
// a trusted network of the settings), which is never new.
func reconNetwork(ev *detectors.Event, s *detectors.Settings) string {
	r := ev.Record
	if r.VPCEndpointID != "" {
		return "vpce:" + r.VPCEndpointID
	}
	if !r.SourceIsIP() || r.ServiceCaller() {
		return ""
	}
	if s.SourceTrusted(ev) {
		return ""
	}
	ip := r.SourceIP.Unmap()
	if !placesSomeone(ip) {
		return "private"
	}
	if s.GeoIP != nil {
		if loc, ok := s.SourceLocation(ev); ok && loc.ASN != 0 {
			return reconASNs.get(loc.ASN)
		}
	}
	bits := 16
	if ip.Is6() {
		bits = 32
	}
	return netip.PrefixFrom(ip, bits).Masked().String()
}
