package detectors

import (
	"encoding/binary"
	"net/netip"
	"regexp"
	"slices"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/internal/wildcard"
)

// Settings is the organisation-wide configuration detectors share: the
// top-level keys of the configuration file (accounts, trusted_networks,
// privileged_roles, session_names). The zero value means nothing is
// configured; a detector must then fall back to a documented default or say,
// through Notes, that it cannot work.
//
// Settings is immutable once built and shared by every detector of one
// configuration generation; a reload builds a new one.
type Settings struct {
	// Accounts are the organisation's AWS account ids. Empty means "the
	// event's own account is the only one known to be ours".
	Accounts []string
	// TrustedCIDRs are networks calls are expected from: offices, NAT
	// egress, internal ranges.
	TrustedCIDRs []netip.Prefix
	// TrustedVPCEndpoints are VPC endpoint ids (vpce-…) of internal networks.
	TrustedVPCEndpoints []string
	// PrivilegedRoles are wildcard patterns ('*', '?') on role ARNs.
	PrivilegedRoles []string
	// SessionNamePatterns are the organisation's conventions for
	// RoleSessionName and SourceIdentity.
	SessionNamePatterns []*regexp.Regexp
	// GeoIP resolves source IPs to a country and network (configuration
	// keys geoip.country_db and geoip.asn_db, opened by package
	// detectors/geoip). Nil means no database is configured; detectors that
	// use it fall back to a documented weaker method and say so in Notes.
	GeoIP GeoLookup
	// AWSASNs are the autonomous systems whose addresses are AWS's
	// (networks.aws_asns adds to DefaultAWSASNs). Nil means the default.
	AWSASNs []uint32
	// HostingASNs are the autonomous systems of hosting, VPN and Tor
	// networks (networks.hosting_asns adds to DefaultHostingASNs,
	// networks.not_hosting_asns removes from it). Nil means the default.
	HostingASNs []uint32
}

// GeoLookup resolves an IP address to where it is on the Internet. It is
// defined here, by its consumers, so detectors never import a database
// reader; detectors/geoip implements it on MaxMind-format databases, and
// tests pass a map.
//
// Lookup reports false when the address is in no configured database.
// Implementations must be safe for concurrent use and must not block on the
// network: Lookup runs inside Observe.
type GeoLookup interface {
	Lookup(addr netip.Addr) (GeoLocation, bool)
}

// GeoLocation is what a GeoLookup knows about an address. Fields a
// database does not carry are left zero.
type GeoLocation struct {
	Country string // ISO 3166-1 alpha-2 code, e.g. "DE"
	ASN     uint32 // autonomous system number, e.g. 3320
	ASNOrg  string // autonomous system organisation, e.g. "Deutsche Telekom AG"
}

// OrgAccount reports whether account belongs to the organisation: listed in
// Accounts, or, when none are configured, equal to eventAccount (the account
// the event was recorded in).
func (s *Settings) OrgAccount(account, eventAccount string) bool {
	if len(s.Accounts) == 0 {
		return account == eventAccount
	}
	return slices.Contains(s.Accounts, account)
}

// HasTrustedNetworks reports whether any trusted CIDR or VPC endpoint is
// configured.
func (s *Settings) HasTrustedNetworks() bool {
	return len(s.TrustedCIDRs) > 0 || len(s.TrustedVPCEndpoints) > 0
}

// TrustedSource reports whether r came from a trusted network: through a
// listed VPC endpoint, or from an IP inside a trusted CIDR. It returns the
// matching CIDR or endpoint id, for explanations.
func (s *Settings) TrustedSource(r *cloudtrail.Record) (string, bool) {
	switch vpce, cidr := s.trusted(r); {
	case vpce:
		return r.VPCEndpointID, true
	case cidr >= 0:
		return s.TrustedCIDRs[cidr].String(), true
	}
	return "", false
}

// Trusted reports whether r came from a trusted network, as TrustedSource
// does, without naming it: most callers only skip such records, and
// naming a CIDR allocates.
func (s *Settings) Trusted(r *cloudtrail.Record) bool {
	vpce, cidr := s.trusted(r)
	return vpce || cidr >= 0
}

// SourceTrusted is s.Trusted(ev.Record), worked out once per event and
// Settings: new-location, recon, workload-credentials and
// mfa-device-removed ask it of most records, some 130 instructions each.
// An event is used by one goroutine at a time (see Owner).
func (s *Settings) SourceTrusted(ev *Event) bool {
	if ev.trustedBy != s || s == nil {
		ev.trustedBy, ev.trusted = s, s.Trusted(ev.Record)
	}
	return ev.trusted
}

// trusted reports whether r came through a trusted VPC endpoint, else
// the index of the first trusted CIDR holding its IP (-1: none).
func (s *Settings) trusted(r *cloudtrail.Record) (vpce bool, cidr int) {
	if r.VPCEndpointID != "" && slices.Contains(s.TrustedVPCEndpoints, r.VPCEndpointID) {
		return true, -1
	}
	if r.SourceIsIP() {
		return false, trustedCIDR(s.TrustedCIDRs, r.SourceIP.Unmap())
	}
	return false, -1
}

// trustedCIDR is the index of the first of cidrs holding ip, -1 when none
// does. An IPv4 address is compared as a word with each IPv4 prefix, as
// netip.Prefix.Contains does but without its call and checks per prefix:
// new-location, recon and the public-source filters ask for every record,
// and Contains was most of the cost (TestTrustedCIDRIsContains).
func trustedCIDR(cidrs []netip.Prefix, ip netip.Addr) int {
	if !ip.Is4() {
		for i, p := range cidrs {
			if p.Contains(ip) {
				return i
			}
		}
		return -1
	}
	a := ip.As4()
	v := binary.BigEndian.Uint32(a[:])
	for i, p := range cidrs {
		pa, bits := p.Addr(), p.Bits()
		if !pa.Is4() || bits < 0 {
			continue // another family, or invalid: Contains holds nothing
		}
		b := pa.As4()
		if (v^binary.BigEndian.Uint32(b[:]))>>(32-bits) == 0 {
			return i
		}
	}
	return -1
}

// PrivilegedRole reports whether roleARN matches a privileged_roles pattern,
// and which.
func (s *Settings) PrivilegedRole(roleARN string) (string, bool) {
	for _, p := range s.PrivilegedRoles {
		if wildcard.Match(p, roleARN) {
			return p, true
		}
	}
	return "", false
}

// SessionNameConventional reports whether name matches a session_names
// pattern, and which. With no patterns configured it reports false.
func (s *Settings) SessionNameConventional(name string) (string, bool) {
	for _, re := range s.SessionNamePatterns {
		if re.MatchString(name) {
			return re.String(), true
		}
	}
	return "", false
}
