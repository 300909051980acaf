package benign

import (
	"hash/fnv"
	"net/netip"
)

// Network kinds, as Network.Kind names them.
const (
	NetOffice  = "office"  // the organisation's own egress
	NetHome    = "home"    // a consumer ISP: where people work from home
	NetMobile  = "mobile"  // a mobile carrier: tethering, phones
	NetTravel  = "travel"  // hotels and local ISPs abroad
	NetAWS     = "aws"     // AWS address space: Lambda, EC2, AWS-hosted vendors
	NetCI      = "ci"      // GitHub-hosted runners (Azure)
	NetHosting = "hosting" // a vendor's cloud outside AWS
)

// Network is one network generated records come from, with what a GeoIP
// database built for the corpus says of it (the ASNs and countries are the
// real operators'; benigntest writes the databases at test time).
type Network struct {
	Name    string
	Kind    string
	Prefix  string
	Country string
	ASN     uint32
	ASNOrg  string
}

// Networks are every network of a corpus.
var Networks = []Network{
	{"office-ams", NetOffice, "185.107.56.0/24", "NL", 3257, "GTT Communications Inc."},
	{"office-nyc", NetOffice, "64.124.12.0/24", "US", 6461, "ZAYO-6461"},
	{"office-ber", NetOffice, "213.61.220.0/24", "DE", 3356, "LEVEL3"},

	{"ziggo", NetHome, "84.24.0.0/13", "NL", 33915, "Vodafone Libertel B.V."},
	{"kpn", NetHome, "77.160.0.0/12", "NL", 1136, "KPN B.V."},
	{"comcast", NetHome, "73.0.0.0/8", "US", 7922, "COMCAST-7922"},
	{"verizon", NetHome, "71.160.0.0/11", "US", 701, "UUNET"},
	{"charter", NetHome, "97.80.0.0/12", "US", 20115, "CHARTER-20115"},
	{"telekom", NetHome, "84.128.0.0/10", "DE", 3320, "Deutsche Telekom AG"},
	{"vodafone-de", NetHome, "88.64.0.0/11", "DE", 3209, "Vodafone GmbH"},
	{"bt", NetHome, "86.128.0.0/10", "GB", 2856, "British Telecommunications PLC"},
	{"virgin", NetHome, "82.0.0.0/14", "GB", 5089, "Virgin Media Limited"},

	{"odido-mobile", NetMobile, "62.140.128.0/17", "NL", 31615, "Odido Netherlands B.V."},
	{"tmobile-us", NetMobile, "172.56.0.0/14", "US", 21928, "T-MOBILE-AS21928"},
	{"telefonica-de", NetMobile, "89.204.128.0/17", "DE", 6805, "Telefonica Germany GmbH & Co.OHG"},
	{"ee", NetMobile, "31.94.0.0/16", "GB", 12576, "EE Limited"},

	{"ntt-jp", NetTravel, "153.128.0.0/10", "JP", 4713, "NTT Communications Corporation"},
	{"telefonica-es", NetTravel, "83.32.0.0/11", "ES", 3352, "TELEFONICA_DE_ESPANA"},
	{"orange-fr", NetTravel, "90.0.0.0/9", "FR", 3215, "Orange"},
	{"singtel", NetTravel, "116.14.0.0/15", "SG", 9506, "Singtel Fibre Broadband"},
	{"rogers", NetTravel, "99.224.0.0/11", "CA", 812, "ROGERS-COMMUNICATIONS"},
	{"meo-pt", NetTravel, "85.240.0.0/13", "PT", 3243, "MEO - SERVICOS DE COMUNICACOES E MULTIMEDIA S.A."},

	{"aws-eu-west-1", NetAWS, "52.208.0.0/13", "IE", 16509, "AMAZON-02"},
	{"aws-us-east-1", NetAWS, "3.80.0.0/12", "US", 14618, "AMAZON-AES"},
	{"github-actions", NetCI, "20.0.0.0/11", "US", 8075, "MICROSOFT-CORP-MSN-AS-BLOCK"},
	{"gcp", NetHosting, "34.64.0.0/10", "US", 396982, "GOOGLE-CLOUD-PLATFORM"},
}

// network returns the network named name; the names are the package's own.
func network(name string) Network {
	for _, n := range Networks {
		if n.Name == name {
			return n
		}
	}
	panic("benign: no network " + name)
}

// networksOf returns the names of the networks of kind in country ("" for
// any country).
func networksOf(kind, country string) []string {
	var out []string
	for _, n := range Networks {
		if n.Kind == kind && (country == "" || n.Country == country) {
			out = append(out, n.Name)
		}
	}
	return out
}

// addr returns the address of host within the network named name: the
// same host number gives the same address.
func addr(name string, host uint32) string {
	p := netip.MustParsePrefix(network(name).Prefix)
	span := uint32(1) << (32 - p.Bits())
	b := p.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += 1 + host%(span-2)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

// hash is a stable 32-bit hash of the parts.
func hash(parts ...string) uint32 {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum32()
}
