package builtin

import (
	"fmt"
	"hash/maphash"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// signedIn reports whether r handed out credentials: a ConsoleLogin only
// counts when it succeeded and signed a role session in (IAM users and
// root have no role, and a failed console sign-in carries no errorCode).
func signedIn(r *cloudtrail.Record) bool {
	if r.EventName != "ConsoleLogin" {
		return true
	}
	if r.UserIdentity.Type != "AssumedRole" {
		return false
	}
	var resp struct {
		ConsoleLogin string `json:"ConsoleLogin"`
	}
	_ = r.Response(&resp) // an odd shape is no success
	return resp.ConsoleLogin == "Success"
}

// signInRole names the role r signs in to: requestParameters.roleArn for
// STS, the session's role for a console sign-in, and for Identity
// Center's GetRoleCredentials the permission set's role under
// aws-reserved/sso.amazonaws.com (the real role name carries a suffix the
// record does not give).
func signInRole(ev *detectors.Event) string {
	r := ev.Record
	type params struct {
		RoleARN   string `json:"roleArn"`
		RoleName  string `json:"roleName"`
		AccountID string `json:"accountId"`
	}
	var p params
	if q, ok := ev.RoleRequest(); ok {
		p.RoleARN, p.RoleName, p.AccountID = q.RoleARN, q.RoleName, q.AccountID
	} else {
		p, _ = ownParams[params](r) // an odd shape leaves it empty
	}
	switch r.EventName {
	case "ConsoleLogin":
		return r.UserIdentity.SessionIssuer.ARN
	case "GetRoleCredentials":
		if p.RoleName == "" {
			return ""
		}
		return "arn:aws:iam::" + p.AccountID + ":role/aws-reserved/sso.amazonaws.com/" + p.RoleName
	}
	return p.RoleARN
}

// signInWho is the person a sign-in is judged for.
type signInWho struct {
	id       string // state identity
	label    string // for explanations
	workload bool   // the caller's own principal: a user or a workload, judged also on the roles it assumes
	human    bool   // a person of an identity provider, not a pipeline or a principal holding keys
}

// ssoRolePrefix starts the name of every role IAM Identity Center creates
// for a permission set; its sessions are named after the user.
const ssoRolePrefix = "AWSReservedSSO_"

// signInPerson names whose history r is judged against. It is never the
// assumed role: a role is shared by everyone who may assume it.
func signInPerson(r *cloudtrail.Record) (signInWho, bool) {
	u := &r.UserIdentity
	switch r.EventName {
	case "AssumeRoleWithSAML":
		var resp struct{ Subject, NameQualifier, Issuer string }
		_ = r.Response(&resp)
		if resp.Subject != "" {
			return signInWho{id: "saml:" + resp.NameQualifier + resp.Issuer + ":" + resp.Subject, label: "SAML subject " + resp.Subject, human: true}, true
		}
		if u.UserName != "" {
			return signInWho{id: "saml::" + u.UserName, label: "SAML user " + u.UserName, human: true}, true
		}
		return signInWho{}, false
	case "AssumeRoleWithWebIdentity":
		var resp struct {
			Subject  string `json:"subjectFromWebIdentityToken"`
			Provider string `json:"provider"`
		}
		_ = r.Response(&resp)
		if resp.Subject != "" {
			return signInWho{id: "web:" + resp.Provider + ":" + resp.Subject, label: "web identity " + resp.Subject}, true
		}
		if u.UserName != "" {
			return signInWho{id: "web::" + u.UserName, label: "web identity " + u.UserName}, true
		}
		return signInWho{}, false
	case "GetRoleCredentials":
		if u.UserName == "" {
			return signInWho{}, false
		}
		return signInWho{id: "sso:" + u.UserName, label: "Identity Center user " + u.UserName, human: true}, true
	}
	if u.SourceIdentity != "" { // sticky: set upstream, the session cannot change it
		return signInWho{id: "source-identity:" + u.SourceIdentity, label: "source identity " + u.SourceIdentity, human: true}, true
	}
	if u.Type == "AssumedRole" {
		session := u.ARN[strings.LastIndexByte(u.ARN, '/')+1:]
		if strings.HasPrefix(u.SessionIssuer.UserName, ssoRolePrefix) && session != "" {
			return signInWho{id: "sso:" + session, label: "Identity Center user " + session, human: true}, true
		}
		if r.EventName == "ConsoleLogin" && session != "" {
			// A federated console session: its name comes from the IdP.
			return signInWho{id: "session:" + u.SessionIssuer.ARN + "/" + session, label: "federated session " + session, human: true}, true
		}
	}
	if p := r.StablePrincipal(); p != "" {
		return signInWho{id: "principal:" + p, label: p, workload: true}, true
	}
	return signInWho{}, false
}

// signInNet is where a sign-in came from, as the detector compares it.
type signInNet struct {
	member string // the person's network set member: "asn:3320", "aws", "vpce:…", "net:198.51.0.0/16"
	label  string // see describe
	// asn, when labelled is not labelAsIs, is the network describe names:
	// most sign-ins raise nothing, and building an ASN's label for each
	// cost two allocations a sign-in.
	asn      detectors.Network
	labelled netLabelling
	country  string // "" when unknown or AWS
	kind     detectors.NetworkKind
	inAWS    bool // AWS, a VPC endpoint or an AWS service acting for the caller
}

// place returns the network of r, or false when r says nothing about one.
func (d *AssumeRoleUnexpectedSource) place(ev *detectors.Event) (signInNet, bool) {
	r := ev.Record
	switch {
	case r.VPCEndpointID != "":
		return signInNet{member: "vpce:" + r.VPCEndpointID, label: "VPC endpoint " + r.VPCEndpointID, kind: detectors.NetworkAWS, inAWS: true}, true
	case r.ServiceCaller():
		return signInNet{member: "aws", label: "AWS (an AWS service on the caller's behalf)", kind: detectors.NetworkAWS, inAWS: true}, true
	case !r.SourceIsIP():
		return signInNet{}, false
	}
	ip := r.SourceIP.Unmap()
	if ip.IsPrivate() || ip.IsLoopback() {
		if d.opts.TrustPrivateAddresses {
			return signInNet{}, false
		}
		return d.prefix(ip), true
	}
	n := d.settings.SourceNetwork(ev)
	switch {
	case n.Kind == detectors.NetworkAWS:
		return signInNet{member: "aws", asn: n, labelled: labelAWSASN, kind: n.Kind, inAWS: true}, true
	case n.Known():
		return signInNet{member: reconASNs.get(n.ASN), asn: n, labelled: labelASN, country: n.Country, kind: n.Kind}, true
	}
	return d.prefix(ip), true
}

// netLabelling is how signInNet.describe names a network.
type netLabelling uint8

const (
	labelAsIs   netLabelling = iota // its label
	labelASN                        // asnLabel of its asn
	labelAWSASN                     // AWS, by asnLabel of its asn
)

// describe names the network for an explanation.
func (n signInNet) describe() string {
	switch n.labelled {
	case labelASN:
		return asnLabel(n.asn)
	case labelAWSASN:
		return "AWS (" + asnLabel(n.asn) + ")"
	}
	return n.label
}

func asnLabel(n detectors.Network) string {
	l := "ASN " + strconv.FormatUint(uint64(n.ASN), 10)
	if n.ASNOrg != "" {
		l += " (" + n.ASNOrg + ")"
	}
	return l
}

func (d *AssumeRoleUnexpectedSource) prefix(ip netip.Addr) signInNet {
	bits := d.opts.IPv4Prefix
	if ip.Is6() {
		bits = d.opts.IPv6Prefix
	}
	p := netip.PrefixFrom(ip, bits).Masked().String()
	return signInNet{member: "net:" + p, label: "network " + p, kind: detectors.NetworkUnknown}
}

// orgIdentity is the state identity of what the organisation as a whole
// knows of a network: which people used it.
func orgIdentity(member string) string { return orgIdentities.get(member) }

// orgIdentities remembers orgIdentity's names: an organisation signs in
// from a few networks, and two joins a sign-in allocated each time.
var orgIdentities = newStringMemo(func(member string) string { return "assume-src:org:" + member })

// signIn is one sign-in being evaluated.
type signIn struct {
	d        *AssumeRoleUnexpectedSource
	ev       *detectors.Event
	who      signInWho
	role     string
	net      signInNet
	seen     *state.Future[state.Novelty] // the person's networks
	country  *state.Future[state.Novelty] // the person's countries; nil without one
	roles    *state.Future[state.Novelty] // roles a workload assumed; nil for people
	mine     detectors.MarkResult         // first sighting inside (or outside) AWS, before this one
	other    detectors.MarkResult         // first sighting on the other side
	last     detectors.MarkResult         // the person's latest sign-in before this one
	org      *state.Future[state.Novelty] // people who used the network
	orgDays  *state.Future[state.Window]  // person|day of everyone's use of the network
	orgFirst detectors.MarkResult         // the organisation's first judged sign-in
}

func (d *AssumeRoleUnexpectedSource) observe(ev *detectors.Event, b *state.Batch, who signInWho, role string, net signInNet) detectors.Evaluation {
	r := ev.Record
	w := d.opts.Window
	s := signIns.New(ev)
	*s = signIn{d: d, ev: ev, who: who, role: role, net: net}
	key := func(name string) state.Key { return ev.Key(who.id, name) } // names are constants: joined per call, they allocated
	s.seen = b.NoveltyAddBy(key("assume-src:nets"), net.member, ev.Owner(), r.EventTime, w)
	if net.country != "" {
		s.country = b.NoveltyAddBy(key("assume-src:countries"), net.country, ev.Owner(), r.EventTime, w)
	}
	side, otherSide := "assume-src:first:outside-aws", "assume-src:first:inside-aws"
	if net.inAWS {
		side, otherSide = otherSide, side
	}
	// A workload (a pipeline, a vendor, automation) assumes the same few
	// roles every day wherever it runs; one it never assumed is what a
	// thief of its credentials reaches for.
	if who.workload && role != "" {
		s.roles = b.NoveltyAddBy(key("assume-src:roles"), role, ev.Owner(), r.EventTime, w)
	}
	s.mine = detectors.Mark(b, key(side), r.EventTime, state.KeepEarliest, w)
	if net.country != "" {
		s.last = detectors.Mark(b, key("assume-src:last"), r.EventTime, state.KeepLatest, w)
	}
	s.other = detectors.ReadMark(b, key(otherSide))
	s.org = b.NoveltyAddBy(ev.Key(orgIdentity(net.member), "assume-src:people"), who.id, ev.Owner(), r.EventTime, w)
	day := state.BucketStart(r.EventTime, 24*time.Hour).Format("2006-01-02")
	s.orgDays = detectors.WindowAddRead(b, ev.Key(orgIdentity(net.member), "assume-src:people-days"), who.id+"|"+day,
		r.EventTime, state.Span{From: r.EventTime.Add(-w), To: r.EventTime}, orgDaysLimit, w)
	s.orgFirst = detectors.Mark(b, ev.Key("assume-src:org", "assume-src:first"), r.EventTime, state.KeepEarliest, w)
	return s
}

// signInState is what the state said of a sign-in.
type signInState struct {
	netNew, countryNew, roleNew bool
	nets, countries             int           // known to the person before, besides this one
	first                       time.Time     // the person's first sighting; zero for a first sign-in
	established                 bool          // the person's history spans the warm-up
	leftAWS                     bool          // first sighting outside AWS of a caller seen inside it
	orgPeople                   int           // other people who used the network in the window
	orgSettled                  int           // of them, those who first used it org_settle or more before (see settle)
	orgDays                     []string      // the network's person|day members, whence orgSettled
	orgEstablished              bool          // the organisation's history spans the warm-up
	gap                         time.Duration // to the person's nearest other sign-in known; -1 when none
}

func (s *signIn) read() (st signInState, err error) {
	seen, err := s.seen.Get()
	if err != nil {
		return st, err
	}
	st.netNew, st.nets = seen.New, othersIn(seen)
	if s.country != nil {
		c, err := s.country.Get()
		if err != nil {
			return st, err
		}
		st.countryNew, st.countries = c.New && c.Size > 0, othersIn(c)
	}
	if s.roles != nil {
		ro, err := s.roles.Get()
		if err != nil {
			return st, err
		}
		st.roleNew = ro.New && ro.Size > 0
	}
	mine, err := s.mine.Get()
	if err != nil {
		return st, err
	}
	st.gap = -1
	if s.last != nil {
		last, err := s.last.Get()
		if err != nil {
			return st, err
		}
		if last.Set {
			// The latest sign-in stored may come after this one (late
			// delivery): either way, the two are that far apart.
			st.gap = s.ev.Record.EventTime.Sub(last.At).Abs()
		}
	}
	other, err := s.other.Get()
	if err != nil {
		return st, err
	}
	org, err := s.org.Get()
	if err != nil {
		return st, err
	}
	orgFirst, err := s.orgFirst.Get()
	if err != nil {
		return st, err
	}
	days, err := s.orgDays.Get()
	if err != nil {
		return st, err
	}
	at := s.ev.Record.EventTime
	for _, m := range []state.Mark{mine, other} {
		if m.Set && m.At.Before(at) && (st.first.IsZero() || m.At.Before(st.first)) {
			st.first = m.At
		}
	}
	warm := s.d.opts.WarmUp
	st.established = !st.first.IsZero() && at.Sub(st.first) >= warm
	st.leftAWS = !s.net.inAWS && !mine.Set && other.Set
	st.orgPeople = othersIn(org)
	st.orgDays = days.Members
	if st.netNew {
		s.settle(&st)
	}
	st.orgEstablished = orgFirst.Set && at.Sub(orgFirst.At) >= warm
	return st, nil
}

// settle counts st.orgSettled. Only the verdict on a new network weighs
// it (read counts it then) and only a finding names it (Findings counts it
// then): counting walks up to orgDaysLimit members, and most sign-ins are
// from a network the person knows and raise nothing.
func (s *signIn) settle(st *signInState) {
	st.orgSettled = settledOthers(st.orgDays, s.who.id, s.ev.Record.EventTime.Add(-s.d.opts.OrgSettle))
}

// orgDaysLimit bounds the person|day members a sign-in reads of its
// network: far more than org_common_people settled people need, and the
// earliest first, so the colleagues who settled on a network longest ago
// are the ones counted.
const orgDaysLimit = 256

// settledOthers counts the people other than self among members
// (person|day) whose first day on the network lies at or before the day of
// since: colleagues established there. A network counts as the
// organisation's by colleagues who have been on it for a while: a thief
// who signs in with several stolen credentials from one network, a victim
// a day, makes nobody settled there, so every victim is judged as on a
// network nobody uses.
func settledOthers(members []string, self string, since time.Time) int {
	var buf [16]byte
	cut := since.UTC().AppendFormat(buf[:0], "2006-01-02")
	// The members repeat some dozens of people over many days (up to
	// orgDaysLimit members): the people are kept in a small open-addressed
	// table on the stack, by hash, as a map assignment per member was most
	// of the cost; past settledTable people, in a map.
	var t settledTable
	var many map[string]bool
	for _, m := range members {
		i := strings.LastIndexByte(m, '|')
		if i < 0 || m[i+1:] > string(cut) || m[:i] == self {
			continue
		}
		if p := m[:i]; !t.add(p) {
			if many == nil {
				many = make(map[string]bool)
			}
			many[p] = true
		}
	}
	return t.n + len(many)
}

// settledTable is a set of up to settledPeople strings, open-addressed
// with linear probing: slots holds 1 + the index in people, by hash.
type settledTable struct {
	n      int
	slots  [2 * settledPeople]uint16
	hashes [settledPeople]uint64
	people [settledPeople]string
}

const settledPeople = 256

// settledSeed keys the hashes of settledTable.
var settledSeed = maphash.MakeSeed()

// add adds p, reporting false when p is not in t and t is full.
func (t *settledTable) add(p string) bool {
	const mask = len(settledTable{}.slots) - 1
	h := maphash.String(settledSeed, p)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		k := t.slots[i]
		if k == 0 {
			if t.n == settledPeople {
				return false
			}
			t.hashes[t.n], t.people[t.n] = h, p
			t.n++
			t.slots[i] = uint16(t.n)
			return true
		}
		if t.hashes[k-1] == h && t.people[k-1] == p {
			return true
		}
	}
}

// othersIn is how many members a novelty set held besides the one added.
func othersIn(n state.Novelty) int {
	if n.New {
		return n.Size
	}
	return max(0, n.Size-1)
}

// Findings implements Evaluation.
func (s *signIn) Findings() ([]detectors.Finding, error) {
	st, err := s.read()
	if err != nil {
		return nil, err
	}
	sev, why := s.verdict(st)
	if sev == detectors.SeverityUnknown {
		return nil, nil
	}
	if !st.netNew {
		s.settle(&st) // the verdict did not need it; the finding names it
	}
	return []detectors.Finding{s.finding(st, sev, why)}, nil
}

// verdict weighs the sign-in: the highest severity any reason gives, and
// the reasons.
func (s *signIn) verdict(st signInState) (detectors.Severity, []string) {
	var sev detectors.Severity
	var why []string
	raise := func(v detectors.Severity, reason string) {
		sev = max(sev, v)
		why = append(why, reason)
	}
	n := s.net
	common := st.orgSettled >= s.d.opts.OrgCommonPeople
	hosting := n.kind == detectors.NetworkHosting
	if !st.established {
		switch {
		case st.netNew && hosting && !common && s.who.human:
			raise(detectors.SeverityHigh, fmt.Sprintf("a hosting, VPN or anonymising network, on which %s of the organisation's people signed in (a person's history is still being learned)", people(st.orgPeople)))
		// Without an ASN a network is a /16, and a home ISP is dozens of
		// them: how many colleagues share one says nothing, so a learning
		// person only learns.
		// Only a network none of the organisation's people used: a home
		// ISP a few colleagues share is how a new hire signs in.
		// Only colleagues on it for org_settle count: people new there
		// may be the same thief's other victims.
		case st.netNew && st.orgEstablished && st.orgSettled == 0 && !strings.HasPrefix(n.member, "net:"):
			raise(detectors.SeverityMedium, fmt.Sprintf("a network none of the organisation's people has used for %s or more "+
				"(%s signed in on it in the last %s; a person's history is still being learned)",
				detectors.Days(s.d.opts.OrgSettle), people(st.orgPeople), detectors.Days(s.d.opts.Window)))
		}
		return sev, why
	}
	if st.leftAWS {
		raise(detectors.SeverityHigh, "the first sign-in from outside AWS of a caller seen only inside AWS before")
	}
	trip := false
	if st.countryNew {
		if st.gap >= 0 && st.gap < s.d.opts.ImpossibleTravel {
			raise(detectors.SeverityHigh, fmt.Sprintf("new country %s (%d other %s known) %v after a sign-in elsewhere: impossible travel",
				n.country, st.countries, plural("country", st.countries), st.gap.Round(time.Minute)))
		} else {
			trip = true
			raise(detectors.SeverityLow, fmt.Sprintf("new country %s (%d other %s known), a trip: the last sign-in was %s before",
				n.country, st.countries, plural("country", st.countries), tripGap(st.gap)))
		}
	}
	if st.netNew {
		switch {
		case hosting:
			raise(detectors.SeverityHigh, "a new network, and a hosting, VPN or anonymising one")
		case trip:
			// The trip's hotel or carrier network: part of the trip.
		case st.nets == 0:
			// Known only from trusted_networks (learnTrusted): the office
			// worker's first sign-in from home, in a country they use.
			raise(detectors.SeverityLow, "the first network outside trusted_networks of a person seen only on them, in no new country")
		case common:
			raise(detectors.SeverityLow, fmt.Sprintf("a new network for the person, which %s of the organisation's people have used for %s or more", people(st.orgSettled), detectors.Days(s.d.opts.OrgSettle)))
		case strings.HasPrefix(n.member, "net:") && st.orgSettled > 0:
			// Without an ASN a network is a /16, and a home ISP is many of
			// them: one a colleague signed in from is most likely the same
			// ISP's. Only a /16 nobody in the organisation used is MEDIUM.
			raise(detectors.SeverityLow, fmt.Sprintf("a new /16 for the person, which %s of the organisation's people have used for %s or more (no ASN database to say more)", people(st.orgSettled), detectors.Days(s.d.opts.OrgSettle)))
		default:
			raise(detectors.SeverityMedium, fmt.Sprintf("a new network (%d other %s known)", st.nets, plural("network", st.nets)))
		}
	}
	if st.roleNew {
		raise(detectors.SeverityMedium, "a role this caller never assumed before in the last "+detectors.Days(s.d.opts.Window))
	}
	return sev, why
}

func tripGap(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(time.Minute).String()
}

func people(n int) string {
	if n == 1 {
		return "1 other"
	}
	return strconv.Itoa(n) + " others"
}

var signInScores = map[detectors.Severity]int{detectors.SeverityLow: 35, detectors.SeverityMedium: 60, detectors.SeverityHigh: 85}

func (s *signIn) finding(st signInState, sev detectors.Severity, why []string) detectors.Finding {
	r := s.ev.Record
	pattern, privileged := s.d.settings.PrivilegedRole(s.role)
	// A privileged role raises a real signal one step; a LOW (a common
	// network, a trip) stays LOW: where a person is says the same whatever
	// the role.
	if privileged && sev >= detectors.SeverityMedium {
		sev = min(sev+1, detectors.SeverityHigh)
	}
	f := detectors.NewFinding(s.d.info, r, sev, signInScores[sev])
	f.Evidence["person"] = s.who.label
	f.Evidence["actor"] = detectors.Actor(r)
	f.Evidence["role_arn"] = s.role
	f.Evidence["source_ip"] = r.SourceIPAddress
	f.Evidence["network"] = s.net.member
	f.Evidence["network_kind"] = s.net.kind.String()
	f.Evidence["networks_known"] = strconv.Itoa(st.nets)
	f.Evidence["org_people_on_network"] = strconv.Itoa(st.orgPeople)
	f.Evidence["org_people_settled_on_network"] = strconv.Itoa(st.orgSettled)
	if s.net.country != "" {
		f.Evidence["country"] = s.net.country
	}
	if r.VPCEndpointID != "" {
		f.Evidence["vpc_endpoint_id"] = r.VPCEndpointID
	}
	history := "first sign-in seen"
	if !st.first.IsZero() {
		f.Evidence["history_since"] = st.first.Format(time.RFC3339)
		history = fmt.Sprintf("history since %s, %.1f days", st.first.Format(time.RFC3339), r.EventTime.Sub(st.first).Hours()/24)
	}
	role := s.role
	if role == "" {
		role = "a role not named in the record"
	}
	f.Explanation = fmt.Sprintf("%s signed in to %s with %s from %s, %s: %s (%s)",
		s.who.label, role, r.EventName, r.SourceIPAddress, s.net.describe(), strings.Join(why, "; "), history)
	if privileged {
		f.Evidence["privileged_pattern"] = pattern
		f.Explanation += fmt.Sprintf("; the role matches privileged_roles pattern %q", pattern)
	}
	// One incident per (person, role, network) per day of event time,
	// whichever of its records was scored first.
	day := state.BucketStart(r.EventTime, 24*time.Hour).Format("2006-01-02")
	f.Once = detectors.OncePer(s.ev.Key(s.who.id, "assume-src:raised:"+s.role+"|"+s.net.member+"|"+day), 24*time.Hour)
	return f
}
