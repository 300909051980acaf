package detectors

import (
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"
)

// NetworkKind says what kind of network a source address belongs to, as far
// as the GeoIP databases and the network lists of the settings tell.
type NetworkKind int

const (
	// NetworkUnknown: no database knows the address (or none is
	// configured), and no list names it.
	NetworkUnknown NetworkKind = iota
	// NetworkAWS: an autonomous system of Amazon (AWS regions, Lambda, EC2,
	// NAT gateways of every AWS customer). It says nothing about whose
	// AWS account the caller is in.
	NetworkAWS
	// NetworkHosting: a hosting, VPS or non-AWS cloud provider, a VPN or
	// proxy egress network, or an anonymising network such as Tor. People
	// do not sign in from these; attackers' tooling runs there.
	NetworkHosting
	// NetworkOther: any other known network: ISPs, mobile carriers,
	// enterprises, universities.
	NetworkOther
)

func (k NetworkKind) String() string {
	switch k {
	case NetworkAWS:
		return "aws"
	case NetworkHosting:
		return "hosting"
	case NetworkOther:
		return "other"
	default:
		return "unknown"
	}
}

// Network is what the settings know about a source address.
type Network struct {
	Addr    netip.Addr
	Country string // ISO 3166-1 alpha-2, "" when unknown
	ASN     uint32 // 0 when unknown
	ASNOrg  string
	Kind    NetworkKind
}

// Known reports whether a database knew the address's network.
func (n Network) Known() bool { return n.ASN != 0 }

// DefaultAWSASNs are the autonomous systems of Amazon that AWS traffic
// leaves from (AMAZON-02, AMAZON-AES, AMAZON-EXPANSION and the regional
// ones). An ASN database also marks a network as AWS when its organisation
// name starts with "AMAZON" or reads "Amazon.com", so a missing number here
// is not fatal.
func DefaultAWSASNs() []uint32 {
	return []uint32{16509, 14618, 7224, 8987, 9059, 10124, 17493, 38895, 39111, 58588, 62785, 135630}
}

// DefaultHostingASNs are autonomous systems of hosting, VPS and non-AWS
// cloud providers, of commercial VPN egress, and of the organisations that
// run most Tor exit relays. The list is a starting point the configuration
// extends (networks.hosting_asns) or trims (networks.not_hosting_asns);
// docs/configuration.md lists it. Sources: the providers' own published
// AS numbers (PeeringDB records) and the Tor Metrics relay search grouped
// by AS.
func DefaultHostingASNs() []uint32 {
	return []uint32{
		// Non-AWS clouds.
		396982, // Google Cloud
		8075,   // Microsoft (Azure)
		31898,  // Oracle Cloud
		45102,  // Alibaba Cloud
		37963,  // Alibaba (Hangzhou)
		132203, // Tencent Cloud
		136907, // Huawei Cloud
		// VPS and dedicated hosting.
		14061,  // DigitalOcean
		63949,  // Akamai Connected Cloud (Linode)
		20473,  // Vultr (Choopa)
		16276,  // OVH
		24940,  // Hetzner Online
		213230, // Hetzner Cloud
		51167,  // Contabo
		12876,  // Scaleway
		60781,  // Leaseweb NL
		28753,  // Leaseweb DE
		8560,   // IONOS
		47583,  // Hostinger
		53667,  // FranTech (BuyVM), also many Tor exits
		36352,  // ColoCrossing
		8100,   // QuadraNet
		40676,  // Psychz Networks
		54825,  // Equinix Metal (Packet)
		// VPN egress.
		9009,   // M247
		60068,  // Datacamp (CDN77)
		212238, // Datacamp
		// Tor exit operators.
		60729,  // Stiftung Erneuerbare Freiheit
		208323, // Foundation for Applied Privacy
		205100, // F3 Netze
		4224,   // The Calyx Institute
	}
}

// Network looks addr up in the GeoIP databases and classifies it with the
// settings' network lists. Without databases it knows only what the lists
// can say without an ASN: nothing, so Kind is NetworkUnknown.
func (s *Settings) Network(addr netip.Addr) Network {
	n := Network{Addr: addr}
	if s == nil || s.GeoIP == nil || !addr.IsValid() {
		return n
	}
	loc, ok := s.GeoIP.Lookup(addr.Unmap())
	return s.classify(addr, loc, ok)
}

// classify is Network of addr once its lookup is known.
func (s *Settings) classify(addr netip.Addr, loc GeoLocation, ok bool) Network {
	n := Network{Addr: addr}
	if !ok {
		return n
	}
	n.Country, n.ASN, n.ASNOrg = loc.Country, loc.ASN, loc.ASNOrg
	switch {
	case n.ASN == 0:
		n.Kind = NetworkUnknown
	case s.awsASN(n.ASN, n.ASNOrg):
		n.Kind = NetworkAWS
	case s.hostingASN(n.ASN):
		n.Kind = NetworkHosting
	default:
		n.Kind = NetworkOther
	}
	return n
}

// defaultAWSASNs and defaultHostingASNs are the defaults the settings
// read when none are configured: made once, never handed out.
var (
	defaultAWSASNs     = DefaultAWSASNs()
	defaultHostingASNs = DefaultHostingASNs()
)

func (s *Settings) awsASN(asn uint32, org string) bool {
	list := s.AWSASNs
	if list == nil {
		list = defaultAWSASNs
	}
	return slices.Contains(list, asn) || amazonOrg(org)
}

// amazonOrg reports whether an ASN organisation's name, upper-cased,
// starts with "AMAZON". An ASCII start is compared in place: upper-casing
// the whole name allocated for every classified address.
func amazonOrg(org string) bool {
	const amazon = "AMAZON"
	for i := 0; i < len(org) && i < len(amazon); i++ {
		if org[i] >= utf8.RuneSelf { // leave Unicode's case rules to ToUpper
			return strings.HasPrefix(strings.ToUpper(org), amazon)
		}
	}
	return len(org) >= len(amazon) && strings.EqualFold(org[:len(amazon)], amazon)
}

func (s *Settings) hostingASN(asn uint32) bool {
	list := s.HostingASNs
	if list == nil {
		list = defaultHostingASNs
	}
	return slices.Contains(list, asn)
}
