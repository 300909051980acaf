package builtin

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// A stolen access key's favourite persistence is a second key for its own
// user: self-service, so LOW on its own. access-key-persistence follows the
// new key for second_key_window after its creation and raises
//
//   - MEDIUM when the old and the new key are both used within an hour of
//     each other, at least inUseGrace after the creation (a rotation retires
//     the old key by then);
//   - MEDIUM at the creation itself when the CreateAccessKey call came from a
//     network the user had not used before the day of the creation;
//   - HIGH when the new key is used from such a network (the one it was
//     minted from, or another one new around its creation).
//
// A network is an ASN with GeoIP, a /16 (IPv4) or /48 (IPv6) without.
// Per user it keeps when each network was first used by its access keys
// (network_history), the last self-minted key (second_key_window) and the
// keys used in the last hours.

// inUseGrace is how long after a self-created key the old key may still be
// used without counting as "still in use": the time a rotation takes.
const inUseGrace = 2 * time.Hour

// concurrentUse is how close in event time the uses of the old and the new
// key must be to count as both in use.
const concurrentUse = time.Hour

// minted is what the detector remembers of a self-created key.
type minted struct {
	Old     string    `json:"o"`
	New     string    `json:"n"`
	At      time.Time `json:"t"`
	Network string    `json:"w"`
}

// keyUse is one successful call by an IAM user's access key, being
// followed for the second-key rules.
type keyUse struct {
	d       *AccessKeyPersistence
	ev      *detectors.Event
	user    string // the user's ARN
	id      string // "akp:" + user, the identity of its state keys
	key     string
	network string // "" when the source places nobody
	pair    *state.Future[[]byte]
	keys    *state.Future[state.Window]
	netSeen detectors.MarkResult // when the user was first seen on this network
	seen    detectors.MarkResult // when the user was first seen at all
}

func (u *keyUse) userKey(name string) state.Key { return u.ev.Key(u.id, name) }

// observeUse queues the state of a call by an IAM user's long-term key; nil
// when the call is not one (roles, failed calls, service callers).
func (d *AccessKeyPersistence) observeUse(ev *detectors.Event, b *state.Batch) *keyUse {
	r := ev.Record
	k := r.UserIdentity.AccessKeyID
	if r.UserIdentity.Type != "IAMUser" || !strings.HasPrefix(k, "AKIA") || r.UserIdentity.ARN == "" ||
		r.Failed() || r.ServiceCaller() {
		return nil
	}
	u := keyUses.New(ev)
	*u = keyUse{d: d, ev: ev, user: r.UserIdentity.ARN, id: akpIdentities.get(r.UserIdentity.ARN), key: k, network: d.network(ev)}
	u.pair = detectors.Get(b, u.userKey("minted"))
	span := state.Span{From: r.EventTime.Add(-concurrentUse), To: r.EventTime.Add(concurrentUse)}
	u.keys = detectors.WindowAddRead(b, u.userKey("keys"), k, r.EventTime, span, 8, 2*concurrentUse+inUseGrace+detectors.AllowedLateness)
	if u.network != "" {
		u.netSeen = detectors.Mark(b, u.userKey(akpNetworkKeys.get(u.network)), r.EventTime, state.KeepEarliest, d.opts.NetworkHistory)
		u.seen = detectors.Mark(b, u.userKey("first-seen"), r.EventTime, state.KeepEarliest, d.opts.NetworkHistory)
	}
	return u
}

// akpIdentities and akpNetworkKeys remember a user's state identity and
// the key name of its first use of a network: a user calls record after
// record from a few networks, and the concatenations allocated on each.
var (
	akpIdentities  = newStringMemo(func(arn string) string { return "akp:" + arn })
	akpNetworkKeys = newStringMemo(func(network string) string { return "network:" + network })
)

// network names the network r came from, "" when its source places nobody.
func (d *AccessKeyPersistence) network(ev *detectors.Event) string {
	r := ev.Record
	if !r.SourceIsIP() {
		return ""
	}
	ip := r.SourceIP.Unmap()
	if !placesSomeone(ip) {
		return ""
	}
	if d.settings.GeoIP != nil {
		if loc, ok := d.settings.SourceLocation(ev); ok && loc.ASN != 0 {
			return asnNames.get(loc.ASN)
		}
	}
	bits := 16
	if ip.Is6() {
		bits = 48
	}
	return netip.PrefixFrom(ip, bits).Masked().String()
}

// remember queues the pair a self-created key starts.
func (u *keyUse) remember(b *state.Batch, newKey string) {
	v, _ := json.Marshal(minted{Old: u.key, New: newKey, At: u.ev.Record.EventTime, Network: u.network}) // plain data
	b.Put(u.userKey("minted"), v, u.d.opts.SecondKeyWindow+detectors.AllowedLateness)
}

// freshNetwork reports whether the call came from a network its user
// first used no earlier than freshSpan before since, after at least
// freshSpan of history elsewhere: a network the attacker brought. It also
// returns when the user was first seen on it. Marks keep the earliest
// time, so the answer does not depend on delivery order.
func (u *keyUse) freshNetwork(since time.Time) (bool, time.Time, error) {
	if u.netSeen == nil {
		return false, time.Time{}, nil
	}
	nm, err := u.netSeen.Get()
	if err != nil {
		return false, time.Time{}, err
	}
	um, err := u.seen.Get()
	if err != nil {
		return false, time.Time{}, err
	}
	t := u.ev.Record.EventTime
	netFirst, userFirst := t, t
	if nm.Set && nm.At.Before(t) {
		netFirst = nm.At
	}
	if um.Set && um.At.Before(t) {
		userFirst = um.At
	}
	return netFirst.Sub(userFirst) >= freshSpan && !netFirst.Before(since.Add(-freshSpan)), netFirst, nil
}

// freshSpan is how much history elsewhere a user needs before a network
// counts as new for it, and how close to a key's creation a new network
// must have appeared to count as the attacker's.
const freshSpan = 24 * time.Hour

// Findings implements detectors.Evaluation: it applies the second-key
// rules to a use of a key.
func (u *keyUse) Findings() ([]detectors.Finding, error) {
	raw, err := u.pair.Get()
	if err != nil {
		return nil, err
	}
	win, err := u.keys.Get()
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 { // most users minted no key: decode nothing
		return nil, nil
	}
	var m minted
	if json.Unmarshal(raw, &m) != nil || m.New == "" {
		return nil, nil
	}
	fresh, netFirst, err := u.freshNetwork(m.At)
	if err != nil {
		return nil, err
	}
	t := u.ev.Record.EventTime
	if t.Before(m.At) || t.Sub(m.At) > u.d.opts.SecondKeyWindow {
		return nil, nil
	}
	switch {
	case u.key == m.New && fresh:
		return u.raise(m, detectors.SeverityHigh, "new-network", fmt.Sprintf("the new key was used from %s, a network "+
			"its user first used at %s, around the creation, after more than %s of history elsewhere",
			u.network, netFirst.UTC().Format(time.RFC3339), detectors.Days(freshSpan))), nil
	case (u.key == m.New || u.key == m.Old) && t.Sub(m.At) >= inUseGrace &&
		slices.Contains(win.Members, m.New) && slices.Contains(win.Members, m.Old):
		return u.raise(m, detectors.SeverityMedium, "both-in-use", fmt.Sprintf("both the old key %s and the new key %s "+
			"were used within %s of each other, more than %s after the creation: a rotation retires the old key, "+
			"a thief keeps both", m.Old, m.New, detectors.Days(concurrentUse), detectors.Days(inUseGrace))), nil
	}
	return nil, nil
}

func (u *keyUse) raise(m minted, sev detectors.Severity, rule, why string) []detectors.Finding {
	r := u.ev.Record
	f := detectors.NewFinding(u.d.info, r, sev, severityScores[sev])
	f.Evidence["actor"] = detectors.Actor(r)
	f.Evidence["old_access_key_id"], f.Evidence["new_access_key_id"] = m.Old, m.New
	f.Evidence["created_at"] = m.At.UTC().Format(time.RFC3339)
	f.Evidence["rule"] = rule
	if u.network != "" {
		f.Evidence["network"] = u.network
	}
	f.Explanation = fmt.Sprintf("%s created access key %s for itself at %s with key %s; key %s was then used for %s from %s: %s",
		u.user, m.New, m.At.UTC().Format(time.RFC3339), m.Old, u.key, r.EventName, r.SourceIPAddress, why)
	f.Once = &detectors.Once{Key: u.userKey("raised:" + rule + ":" + m.New), TTL: u.d.opts.SecondKeyWindow + time.Hour}
	return []detectors.Finding{f}
}
