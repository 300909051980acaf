package benign

import (
	"fmt"
	"strings"
	"time"
)

// person is a Person and how they behave.
type person struct {
	Person
	roles   []signIn // what they sign in to
	start   int      // first working hour, UTC
	perDay  int      // mean calls on a working day
	officeD int      // office days a week (Tuesday on), 0 for remote people
}

// signIn is a role a person signs in to: an Identity Center permission
// set's reserved role, or an Okta-federated role.
type signIn struct {
	account, role string
}

var (
	firstNames = []string{"anna", "bram", "carlos", "daan", "emma", "finn", "grace", "hugo", "ines", "jonas", "kim", "lars", "maria", "noah", "olivia", "pieter", "quinn", "rosa", "sam", "tara", "umar", "vera", "wei", "xavier", "yara"}
	lastNames  = []string{"devries", "jansen", "smith", "mueller", "garcia", "bakker", "chen", "schmidt", "visser", "brown", "patel", "meyer", "johnson", "kowalski", "nguyen", "dubois", "rossi", "kim", "silva", "ahmed"}

	// Permission sets' reserved roles, the same suffix in every account
	// (Identity Center derives it from the permission set).
	ssoAdmin     = "AWSReservedSSO_AdministratorAccess_7a4c1f0e2b9d3a61"
	ssoPowerUser = "AWSReservedSSO_PowerUserAccess_0c8e6d1a59f3b472"
	ssoReadOnly  = "AWSReservedSSO_ReadOnlyAccess_e13b5a7c9d2f4086"
	ssoBilling   = "AWSReservedSSO_Billing_4f2a9c7e1b3d5068"
)

// countries people live in, by share.
var countries = []struct {
	code   string
	office string
	weight int
}{{"NL", "office-ams", 45}, {"US", "office-nyc", 30}, {"DE", "office-ber", 15}, {"GB", "", 10}}

// organisation builds the people.
func (g *gen) organisation() {
	for i := range g.o.People {
		c := g.pickCountry()
		p := &person{Person: Person{
			Email:     fmt.Sprintf("%s.%s@example.com", firstNames[i%len(firstNames)], lastNames[(i/len(firstNames)+i)%len(lastNames)]),
			Developer: i%5 < 2, Country: c.code, Office: c.office, Travel: -1,
		}}
		if i >= 250 { // the name pairs repeat from here
			p.Email = fmt.Sprintf("%s.%s%d@example.com", firstNames[i%len(firstNames)], lastNames[i%len(lastNames)], i)
		}
		homes, mobiles := networksOf(NetHome, c.code), networksOf(NetMobile, c.code)
		p.Home, p.Mobile = homes[g.rng.IntN(len(homes))], mobiles[g.rng.IntN(len(mobiles))]
		if p.Office != "" && g.rng.IntN(4) != 0 {
			p.officeD = 2 + g.rng.IntN(3)
		}
		if g.rng.IntN(8) == 0 { // one in eight spends a week abroad this month
			p.Travel = 7 * g.rng.IntN(max(1, g.o.Days/7))
			abroad := networksOf(NetTravel, "")
			p.TravelNet = abroad[g.rng.IntN(len(abroad))]
		}
		p.start = 7
		if c.code == "US" {
			p.start = 13
		}
		p.start += g.rng.IntN(3)
		p.perDay = 15 + g.rng.IntN(25)
		p.Identity = "identity-center"
		if i%4 == 3 {
			p.Identity = "okta"
		}
		p.roles = g.rolesOf(p, i)
		g.people = append(g.people, p)
	}
}

func (g *gen) pickCountry() (c struct {
	code   string
	office string
	weight int
}) {
	x := g.rng.IntN(100)
	for _, c := range countries {
		if x < c.weight {
			return c
		}
		x -= c.weight
	}
	return countries[0]
}

// rolesOf is what person number i signs in to.
func (g *gen) rolesOf(p *person, i int) []signIn {
	if p.Identity == "okta" {
		if p.Developer {
			return []signIn{{AccountDev, "okta-engineer"}, {AccountProduction, "okta-readonly"}}
		}
		return []signIn{{AccountProduction, "okta-readonly"}}
	}
	switch {
	case i%20 == 0: // platform team: administrators
		return []signIn{{AccountManagement, ssoAdmin}, {AccountProduction, ssoAdmin}, {AccountDev, ssoAdmin}, {AccountSecurity, ssoReadOnly}}
	case p.Developer:
		return []signIn{{AccountDev, ssoPowerUser}, {AccountProduction, ssoReadOnly}}
	case i%7 == 0:
		return []signIn{{AccountManagement, ssoBilling}}
	}
	return []signIn{{AccountProduction, ssoReadOnly}, {AccountDev, ssoReadOnly}}
}

// where is the network person p works from on day, and the pattern
// their records of that day belong to.
func (g *gen) where(p *person, day int, base time.Time) (net, pattern string) {
	if p.Travel >= 0 && day >= p.Travel && day < p.Travel+7 {
		return p.TravelNet, PatternTravel
	}
	wd := int(base.Weekday())
	if p.officeD > 0 && wd >= 2 && wd < 2+p.officeD && wd <= 5 {
		return p.Office, PatternConsole
	}
	if g.rng.IntN(15) == 0 {
		return p.Mobile, PatternMobile
	}
	return p.Home, PatternConsole
}

// host is p's address on net: stable at home (a consumer ISP's lease
// changes rarely: weekly here), one of a few NAT addresses at the office,
// fresh on a carrier or abroad.
func (g *gen) host(p *person, net string, day int) string {
	switch network(net).Kind {
	case NetHome:
		return addr(net, hash(p.Email, fmt.Sprint(day/7)))
	case NetOffice:
		return addr(net, uint32(g.rng.IntN(4)))
	case NetTravel:
		return addr(net, hash(p.Email, "hotel", fmt.Sprint(day/3)))
	}
	return addr(net, g.rng.Uint32())
}

// personDay is one person's day: one or two sign-ins, then console and
// CLI work.
func (g *gen) personDay(p *person, day int, base time.Time, weekend bool) {
	if weekend && g.rng.IntN(12) != 0 {
		return
	}
	net, pattern := g.where(p, day, base)
	ip := g.host(p, net, day)
	sessions := 1 + g.rng.IntN(2)
	calls := p.perDay/2 + g.rng.IntN(p.perDay+1)
	if weekend {
		calls /= 4
	}
	for s := range sessions {
		t := base.Add(time.Duration(p.start)*time.Hour + time.Duration(s)*4*time.Hour + g.jitter(90*time.Minute))
		role := p.roles[g.rng.IntN(len(p.roles))]
		if s == 0 {
			role = p.roles[0]
		}
		a := g.signIn(p, pattern, t, role, ip)
		g.work(p, pattern, a, t, calls/sessions)
	}
}

// signIn records a person's federation into role, and returns the
// session (a console session).
func (g *gen) signIn(p *person, pattern string, t time.Time, to signIn, ip string) *actor {
	provider, ptype, principal := "arn:aws:iam::"+to.account+":saml-provider/Okta", PatternSAMLSignIn, "SAML:"+p.Email
	if p.Identity == "identity-center" {
		provider = "arn:aws:iam::" + to.account + ":saml-provider/AWSSSO_3f2d9b8e1c7a6054_DO_NOT_DELETE"
		ptype = PatternSSOSignIn
		principal = stableID(p.Email, 24) + ":" + p.Email
	}
	if pattern == PatternConsole {
		pattern = ptype
	}
	hours := 12
	if p.Identity == "identity-center" {
		hours = 8
	}
	who := &actor{account: to.account, ip: ip, ua: uaBrowser, ident: map[string]any{
		"type": "SAMLUser", "principalId": principal, "userName": p.Email, "identityProvider": provider,
	}}
	r := g.rec(t, who, "sts.amazonaws.com", "AssumeRoleWithSAML", true, map[string]any{
		"sAMLAssertionID": "_" + g.hex(32), "roleSessionName": p.Email,
		"roleArn": roleARN(to.account, to.role), "principalArn": provider, "durationSeconds": hours * 3600,
	}, g.credentials(t, to.account, to.role, p.Email, hours))
	resp := r["responseElements"].(map[string]any)
	resp["subject"], resp["subjectType"] = p.Email, "persistent"
	resp["audience"] = "https://signin.aws.amazon.com/saml"
	resp["issuer"] = "http://www.okta.com/exk" + stableID("okta", 17)
	if p.Identity == "identity-center" {
		resp["issuer"] = "https://portal.sso.eu-west-1.amazonaws.com/saml/assertion/" + stableID(to.account, 20)
	}
	resp["nameQualifier"] = stableID(provider, 28) + "="
	r["additionalEventData"] = map[string]any{"ExtendedRequestId": g.upper(40)}
	delete(r, "tlsDetails")
	g.emit(pattern, t, r)
	return &actor{ident: g.assumedRole(to.account, to.role, p.Email, t, false), account: to.account, ip: ip, ua: uaConsole, console: true}
}

// work is a person's calls in a session: console pages, and for
// developers the CLI, starting with whoami then s3 ls.
func (g *gen) work(p *person, pattern string, a *actor, t time.Time, calls int) {
	at := t.Add(time.Minute + g.jitter(time.Minute))
	if p.Developer && g.rng.IntN(3) != 0 {
		cli := g.cliSession(p, pattern, a, at)
		cli.ua = uaCLI + "sts.get-caller-identity"
		g.emit(pick(pattern, PatternWhoamiS3Ls), at, g.rec(at, cli, "sts.amazonaws.com", "GetCallerIdentity", true, nil, map[string]any{
			"account": a.account, "userId": a.ident["principalId"], "arn": a.ident["arn"],
		}))
		at = at.Add(5*time.Second + g.jitter(40*time.Second))
		cli.ua = uaCLI + "s3.ls"
		g.emit(pick(pattern, PatternWhoamiS3Ls), at, g.rec(at, cli, "s3.amazonaws.com", "ListBuckets", true, map[string]any{"Host": "s3.eu-west-1.amazonaws.com"}, nil))
		for range calls / 3 {
			at = at.Add(20*time.Second + g.jitter(4*time.Minute))
			o := cliOps[g.rng.IntN(len(cliOps))]
			cli.ua = uaCLI + o.command
			g.emit(pattern, at, g.rec(at, cli, o.source, o.name, o.read, o.params(g, a.account), nil))
		}
		calls -= calls / 3
	}
	for range calls {
		at = at.Add(10*time.Second + g.jitter(6*time.Minute))
		o := consoleOps[g.rng.IntN(len(consoleOps))]
		c := *a
		c.ua = o.ua
		g.emit(pattern, at, g.rec(at, &c, o.source, o.name, true, o.params(g, a.account), nil))
	}
}

// pick is the pattern of a record: the day's travel or mobile pattern
// wins, since that is what makes it unusual.
func pick(day, pattern string) string {
	if day == PatternTravel || day == PatternMobile {
		return day
	}
	return pattern
}

// cliSession is the CLI credentials of a person signed in as console
// session a: for Identity Center, `aws sso login` credentials fetched with
// GetRoleCredentials (recorded in the management account, where Identity
// Center lives); for Okta, a saml2aws-style second assumption. Either way
// a session key of its own, not the console's.
func (g *gen) cliSession(p *person, pattern string, a *actor, t time.Time) *actor {
	ident := make(map[string]any, len(a.ident))
	for k, v := range a.ident {
		ident[k] = v
	}
	ident["accessKeyId"] = "ASIA" + g.upper(16)
	if p.Identity == "identity-center" {
		t = t.Add(-5 * time.Second)
		user := stableID(p.Email, 10)
		r := g.rec(t, &actor{account: AccountManagement, ip: a.ip, ua: uaCLI + "sso.login", ident: map[string]any{
			"type": "IdentityCenterUser", "accountId": AccountManagement,
			"onBehalfOf":   map[string]any{"userId": user, "identityStoreArn": "arn:aws:identitystore::" + AccountManagement + ":identitystore/d-9367a1b2c3"},
			"credentialId": g.upper(40),
		}}, "sso.amazonaws.com", "GetRoleCredentials", true, map[string]any{
			"roleName": roleNameOf(a), "accountId": a.account,
		}, nil)
		r["eventCategory"] = "Management"
		g.emit(pattern, t, r)
	}
	return &actor{ident: ident, account: a.account, ip: a.ip, ua: uaCLI}
}

// roleNameOf is the permission set's name behind a session of a reserved
// role: AWSReservedSSO_<name>_<suffix>.
func roleNameOf(a *actor) string {
	issuer := a.ident["sessionContext"].(map[string]any)["sessionIssuer"].(map[string]any)["userName"].(string)
	name := strings.TrimPrefix(issuer, "AWSReservedSSO_")
	if i := strings.LastIndex(name, "_"); i > 0 {
		name = name[:i]
	}
	return name
}
