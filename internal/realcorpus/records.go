package realcorpus

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"strings"
	"time"
)

// Network is one network generated records come from, with what a GeoIP
// database built for the corpus should say of it (see detectors/geoip/
// geoiptest, which writes one at test time).
type Network struct {
	Prefix  string
	Country string
	ASN     uint32
	ASNOrg  string
	Trusted bool // the organisation's own egress (office, CI, AWS): trusted_networks
}

// Networks are every network of a corpus: the office, people's homes,
// CI runners, AWS, and the attackers'.
var Networks = []Network{
	netOffice:   {"192.0.2.0/24", "NL", 64500, "Example Office Fibre", true},
	netHomeNL:   {"198.51.100.0/24", "NL", 64501, "Dutch Consumer ISP", false},
	netHomeDE:   {"198.18.0.0/16", "DE", 64502, "German Consumer ISP", false},
	netHomeUS:   {"198.19.0.0/16", "US", 64503, "US Cable", false},
	netCI:       {"20.0.0.0/11", "US", 8075, "MICROSOFT-CORP-MSN-AS-BLOCK", true},
	netAWS:      {"3.0.0.0/9", "US", 16509, "AMAZON-02", true},
	netAttackRU: {"203.0.113.0/24", "RU", 64666, "Bulletproof Hosting", false},
	netAttackBR: {"45.224.0.0/12", "BR", 64777, "Residential Proxy Network", false},
}

const (
	netOffice = iota
	netHomeNL
	netHomeDE
	netHomeUS
	netCI
	netAWS
	netAttackRU
	netAttackBR
)

// addr returns the address of host within network n: the same host number
// gives the same address.
func addr(n int, host uint32) string {
	p := netip.MustParsePrefix(Networks[n].Prefix)
	span := uint32(1) << (32 - p.Bits())
	b := p.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += 1 + host%(span-2)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

func hostOf(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()
}

// session is a set of credentials in use: who, from where, with what key.
type session struct {
	id    *identity
	at    time.Time // when the credentials were obtained
	ident map[string]any
	ip    string
	key   string
	ua    string
}

const uaSuffix = " iamsentry-realcorpus"

var (
	consoleUA   = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36" + uaSuffix
	cliUA       = "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/macos#23.4.0 md/arch#arm64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off command/unknown" + uaSuffix
	sdkUA       = "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/unknown" + uaSuffix
	terraformUA = "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.51.6 (go1.22.1; linux; amd64)" + uaSuffix
)

// credentials starts a session of id at t, emitting the record that
// obtained it when there is one.
func (g *gen) credentials(id *identity, t time.Time) *session {
	s := &session{id: id, at: t, ua: id.ua, ip: addr(id.net, hostOf(id.Name))}
	switch id.Kind {
	case KindDeveloper, KindAutomation:
		s.key = id.key
		s.ident = map[string]any{
			"type": "IAMUser", "principalId": "AIDA" + upperOf(id.Name, 17), "arn": "arn:aws:iam::" + Account + ":user/" + id.Name,
			"accountId": Account, "accessKeyId": id.key, "userName": id.Name,
		}
	case KindService:
		s.ip, s.ua = id.Name, id.Name
		s.ident = map[string]any{"type": "AWSService", "invokedBy": id.Name}
		if id.role != "" { // the service assumes its role, then calls as it
			g.emit(t, g.assumeRole(t, s, id.role, "sts.amazonaws.com", "AssumeRole", map[string]any{
				"roleArn": roleARN(id.role), "roleSessionName": strings.Split(id.Name, ".")[0] + "-" + g.upper(8),
			}))
			s = g.roleSession(id, t, id.role, strings.Split(id.Name, ".")[0]+"-session")
			s.ip, s.ua = id.Name, id.Name
			s.ident["invokedBy"] = id.Name
		}
	case KindSSOPerson:
		s = g.roleSession(id, t, id.role, id.Name)
		g.emit(t, g.consoleLogin(t, s))
	case KindSAMLPerson:
		g.emit(t, g.samlLogin(t, s))
		s = g.roleSession(id, t, id.role, id.Name)
		s.ip = addr(id.net, hostOf(id.Name))
	case KindCI:
		g.emit(t, g.webIdentity(t, s))
		s = g.roleSession(id, t, id.role, "GitHubActions-"+fmt.Sprint(g.rng.IntN(1e9)))
		s.ip = addr(netCI, g.rng.Uint32())
	case KindTerraform:
		s = g.roleSession(id, t, id.role, fmt.Sprintf("terraform-run-%d", g.rng.IntN(1e6)))
		s.ip = addr(netAWS, hostOf(id.Name))
	}
	return s
}

// roleSession is a session of role named name.
func (g *gen) roleSession(id *identity, t time.Time, role, name string) *session {
	key := "ASIA" + g.upper(16)
	roleID := "AROA" + upperOf(role, 17)
	short := role[strings.LastIndex(role, "/")+1:] // assumed-role ARNs drop the role's path
	return &session{id: id, at: t, ua: id.ua, key: key, ip: addr(id.net, hostOf(id.Name)), ident: map[string]any{
		"type": "AssumedRole", "principalId": roleID + ":" + name,
		"arn":       "arn:aws:sts::" + Account + ":assumed-role/" + short + "/" + name,
		"accountId": Account, "accessKeyId": key,
		"sessionContext": map[string]any{
			"sessionIssuer": map[string]any{"type": "Role", "principalId": roleID, "arn": roleARN(role), "accountId": Account, "userName": short},
			"attributes":    map[string]any{"creationDate": t.UTC().Format(time.RFC3339), "mfaAuthenticated": "false"},
		},
	}}
}

func roleARN(role string) string {
	if strings.HasPrefix(role, "AWSReservedSSO_") {
		return "arn:aws:iam::" + Account + ":role/aws-reserved/sso.amazonaws.com/eu-west-1/" + role
	}
	return "arn:aws:iam::" + Account + ":role/" + role
}

// upperOf derives a stable id of n characters from name, so an identity's
// principal id is the same every day.
func upperOf(name string, n int) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	h := uint64(hostOf(name))*0x9e3779b97f4a7c15 + 1
	b := make([]byte, n)
	for i := range b {
		h = h*6364136223846793005 + 1442695040888963407
		b[i] = alpha[(h>>33)%uint64(len(alpha))]
	}
	return string(b)
}

// base is the envelope every record shares, as real records carry it.
func (g *gen) base(t time.Time, s *session, source, name string, read bool) map[string]any {
	region := "eu-west-1"
	if source == "iam.amazonaws.com" || source == "signin.amazonaws.com" || source == "organizations.amazonaws.com" {
		region = "us-east-1"
	}
	r := map[string]any{
		"eventVersion": "1.09", "eventID": g.uuid(), "requestID": g.uuid(),
		"eventTime": t.UTC().Format(time.RFC3339), "eventSource": source, "eventName": name,
		"eventType": "AwsApiCall", "eventCategory": "Management", "managementEvent": true,
		"awsRegion": region, "sourceIPAddress": s.ip, "userAgent": s.ua,
		"recipientAccountId": Account, "readOnly": read, "userIdentity": s.ident,
		"requestParameters": nil, "responseElements": nil,
	}
	if s.id.Kind != KindService {
		r["tlsDetails"] = map[string]any{
			"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
			"clientProvidedHostHeader": strings.TrimSuffix(source, ".amazonaws.com") + "." + region + ".amazonaws.com",
		}
	}
	if s.id.Kind == KindSSOPerson || s.id.Kind == KindSAMLPerson {
		r["sessionCredentialFromConsole"] = "true"
	}
	return r
}

// call is one ordinary API call of s.
func (g *gen) call(s *session, t time.Time, o op) map[string]any {
	r := g.base(t, s, o.source, o.name, o.read)
	if o.params != nil {
		r["requestParameters"] = o.params(g)
	}
	if o.response != nil {
		r["responseElements"] = o.response(g)
	}
	deny := o.denyOneIn
	if deny == 0 && s.id.Kind != KindService {
		deny = 120 // real trails hold about one error in a hundred calls
	}
	if deny > 0 && g.rng.IntN(deny) == 0 {
		r["errorCode"] = "AccessDenied"
		r["errorMessage"] = fmt.Sprintf("User: %v is not authorized to perform: %s:%s because no identity-based policy allows the %s:%s action",
			s.ident["arn"], strings.TrimSuffix(o.source, ".amazonaws.com"), o.name, strings.TrimSuffix(o.source, ".amazonaws.com"), o.name)
		r["responseElements"] = nil
	}
	return r
}

// credentialsResponse is the responseElements of an STS call that issued
// a session: the largest records of a real trail.
func (g *gen) credentialsResponse(t time.Time, role, name string) map[string]any {
	return map[string]any{
		"credentials": map[string]any{
			"accessKeyId": "ASIA" + g.upper(16), "expiration": t.Add(time.Hour).UTC().Format("Jan 2, 2006, 3:04:05 PM"),
			"sessionToken": "IQoJb3JpZ2luX2VjE" + g.upper(600),
		},
		"assumedRoleUser": map[string]any{
			"assumedRoleId": "AROA" + upperOf(role, 17) + ":" + name,
			"arn":           "arn:aws:sts::" + Account + ":assumed-role/" + role[strings.LastIndex(role, "/")+1:] + "/" + name,
		},
	}
}

func (g *gen) assumeRole(t time.Time, s *session, role, source, name string, params map[string]any) map[string]any {
	r := g.base(t, s, source, name, true)
	r["requestParameters"] = params
	session, _ := params["roleSessionName"].(string)
	r["responseElements"] = g.credentialsResponse(t, role, session)
	r["resources"] = []any{map[string]any{"ARN": roleARN(role), "accountId": Account, "type": "AWS::IAM::Role"}}
	return r
}

// consoleLogin is an SSO person's console sign-in.
func (g *gen) consoleLogin(t time.Time, s *session) map[string]any {
	r := g.base(t, s, "signin.amazonaws.com", "ConsoleLogin", false)
	delete(r, "tlsDetails")
	delete(r, "readOnly")
	r["eventType"] = "AwsConsoleSignIn"
	r["responseElements"] = map[string]any{"ConsoleLogin": "Success"}
	r["additionalEventData"] = map[string]any{"MobileVersion": "No", "MFAUsed": "No"}
	return r
}

// samlLogin is AssumeRoleWithSAML by a person of an external IdP.
func (g *gen) samlLogin(t time.Time, s *session) map[string]any {
	id := s.id
	s.ident = map[string]any{
		"type": "SAMLUser", "principalId": "SAML:" + id.Name, "userName": id.Name,
		"identityProvider": "arn:aws:iam::" + Account + ":saml-provider/Okta",
	}
	return g.assumeRole(t, s, id.role, "sts.amazonaws.com", "AssumeRoleWithSAML", map[string]any{
		"roleArn": roleARN(id.role), "principalArn": "arn:aws:iam::" + Account + ":saml-provider/Okta",
		"roleSessionName": id.Name, "durationSeconds": 43200,
	})
}

// webIdentity is a CI pipeline's AssumeRoleWithWebIdentity.
func (g *gen) webIdentity(t time.Time, s *session) map[string]any {
	id := s.id
	s.ip = addr(netCI, g.rng.Uint32())
	s.ident = map[string]any{
		"type": "WebIdentityUser", "principalId": "arn:aws:iam::" + Account + ":oidc-provider/token.actions.githubusercontent.com:sts.amazonaws.com:" + id.Name,
		"userName": id.Name, "identityProvider": "arn:aws:iam::" + Account + ":oidc-provider/token.actions.githubusercontent.com",
	}
	name := "GitHubActions"
	r := g.assumeRole(t, s, id.role, "sts.amazonaws.com", "AssumeRoleWithWebIdentity", map[string]any{
		"roleArn": roleARN(id.role), "roleSessionName": name, "durationSeconds": 3600,
	})
	r["additionalEventData"] = map[string]any{"identityProviderConnectionVerificationMethod": "IAMTrustStore"}
	return r
}
