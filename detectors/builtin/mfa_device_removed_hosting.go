package builtin

import (
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// How mfa-device-removed judges where a user's own removal came from.
//
// The removal's own source is the evidence, judged against the places the
// user worked from on earlier days. Every call of an IAM user adds one
// day-stamped member to the user's set of places: its country
// ("cc:DE@2024-08-01") when it comes from a network that places a person,
// or its hosting, VPN or Tor network (or AWS's, outside trusted_networks)
// with the kind of credential that made it ("asn:14061@2024-08-01 AKIA…",
// "… session") when it comes from one.
// A removal reads the members of days that ended at least reconHabitGap
// before it, so nothing the removal's own day did (an attacker's session
// warming up, a call delivered late) teaches the user anything, and the
// answer is the same in any arrival order within the allowed lateness.
//
// From a hosting network it is HIGH unless the user used that network on
// mfaHostingKnownDays distinct days of the last mfaHostingHabit: a thief
// who warms a VPS for a few hours of one or two days does not make it the
// user's. A network the user did use on those days but only through the
// removing credential (the one key, or console sessions alone) is MEDIUM:
// a stolen key warmed for days looks exactly like that, while a jump host
// the person reaches from the console and the CLI does not. From another
// network, a country the user never worked from in mfaCountryHabit is
// MEDIUM: a residential proxy abroad, which no hosting list names; the
// user's usual countries, or a user with no history yet, stay LOW. A
// country is learned only from days that ended a day or more before the
// removal (mfaCountryGap): the hosting rule counts distinct days, which a
// session crossing midnight cannot multiply, but one day of a country is
// enough to know it, so that day must lie beyond a thief's warm-up.
//
// A residential proxy in the user's own country stays LOW: its ISP is an
// ISP like the user's, and people reach AWS from new home, mobile and
// café networks every week, so nothing in the removal's record tells it
// apart honestly (docs/detectors.md says so).

// mfaHostingHabit is how far back a hosting network's days are counted.
const mfaHostingHabit = 10 * 24 * time.Hour

// mfaHostingKnownDays is on how many distinct earlier days a user must
// have used a hosting network for it to be the user's.
const mfaHostingKnownDays = 3

// mfaCountryHabit is how far back a user's countries are learned.
const mfaCountryHabit = 30 * 24 * time.Hour

// mfaCountryGap is how long before a removal a day must have started for
// the countries of its calls to count as the user's: 48 h, so a day that
// ended at least a day before. A day that ended only hours before may be
// the thief's own evening: a proxy session from 23:00 UTC and the removal
// at 02:30 would otherwise teach the proxy's country. A warm-up must now
// last more than a day, across two midnights, to teach it.
const mfaCountryGap = 48 * time.Hour

// mfaPlacesTTL keeps the user's places for the longest habit, the day a
// member stands for, the gap and the lateness.
const mfaPlacesTTL = mfaCountryHabit + 24*time.Hour + reconHabitGap + detectors.AllowedLateness

// mfaPlacesLimit bounds the members a removal reads: a country or a
// hosting network and credential per day over mfaCountryHabit. A user
// with more is judged on the first mfaPlacesLimit (earliest first).
const mfaPlacesLimit = 512

// mfaPrincipal is the state identity of the IAM user behind ev (any of its
// keys, its console session), "" when r is not an IAM user's call.
func mfaPrincipal(ev *detectors.Event) string {
	r := ev.Record
	if r.UserIdentity.Type != "IAMUser" {
		return ""
	}
	if p := r.StablePrincipal(); p != "" {
		return principalIdentity(ev, p)
	}
	return ""
}

// mfaDays and mfaCountries remember the renderings a user's calls repeat
// (the day, the country), so the call of a known place allocates only its
// member.
var (
	mfaDays      = formatCache{layout: "@" + time.DateOnly}
	mfaCountries = newStringMemo(func(cc string) string { return "cc:" + cc })
)

// mfaPlace is where one call of an IAM user came from, as the user's set
// of places holds it.
type mfaPlace struct {
	hosting bool
	value   string // "asn:N" for a hosting network, "cc:XX" for a country
	cred    string // the credential kind, for a hosting network
}

// member renders the place on the day holding at.
func (p mfaPlace) member(ev *detectors.Event, day time.Time) string {
	var buf [128]byte
	m := append(append(buf[:0], p.value...), mfaDays.format(day)...)
	if p.hosting {
		m = append(append(m, ' '), p.cred...)
	}
	return ev.String(m) // built per call: carved from the batch's arena
}

// parseMFAPlace reads a member back; ok is false for a member of another
// shape (a store written by an older version), which is skipped.
func parseMFAPlace(m string) (p mfaPlace, day string, ok bool) {
	m, p.cred, p.hosting = strings.Cut(m, " ")
	p.value, day, ok = strings.Cut(m, "@")
	return p, day, ok && p.hosting == strings.HasPrefix(p.value, "asn:")
}

// mfaCredential names the credential kind of r for a hosting network's
// members: the long-term key itself, or "session" for temporary (console
// or GetSessionToken) keys, which change at every sign-in.
func mfaCredential(r *cloudtrail.Record) string {
	if k := r.UserIdentity.AccessKeyID; strings.HasPrefix(k, "AKIA") {
		return k
	}
	return "session"
}

// place returns where ev's call came from, when its source places a
// person or is a hosting network.
func (d *MFADeviceRemoved) place(ev *detectors.Event) (mfaPlace, bool) {
	r := ev.Record
	if r.ServiceCaller() || unauthenticatedCall(r.ErrorCode) || !r.SourceIsIP() {
		return mfaPlace{}, false
	}
	n := d.settings.SourceNetwork(ev)
	// An instance in AWS is a VPS like any other: a thief's EC2 instance
	// in the user's country must not pass for the user's home.
	// trusted_networks (the organisation's egress, whatever its kind)
	// say where its people are.
	vps := n.Kind == detectors.NetworkHosting || n.Kind == detectors.NetworkAWS
	if _, public := publicSource(ev, d.settings); public && vps {
		if n.ASN == 0 {
			return mfaPlace{}, false
		}
		return mfaPlace{hosting: true, value: "asn:" + strconv.FormatUint(uint64(n.ASN), 10), cred: mfaCredential(r)}, true
	}
	if n.Country == "" {
		return mfaPlace{}, false
	}
	return mfaPlace{value: mfaCountries.get(n.Country)}, true
}

// placesSpan is the span of day starts a removal at t judges its place
// by: days that ended at least reconHabitGap before t, back to the
// longest habit.
func placesSpan(t time.Time) state.Span {
	return state.Span{From: t.Add(-mfaCountryHabit), To: t.Add(-24*time.Hour - reconHabitGap)}
}

// placesKey is the user id's set of places.
func placesKey(ev *detectors.Event, id string) state.Key {
	return ev.Key(id, "mfa:places")
}

// observeUse records an IAM user's call in the user's places.
func (d *MFADeviceRemoved) observeUse(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	id := mfaPrincipal(ev)
	if id == "" {
		return nil
	}
	if p, ok := d.place(ev); ok {
		day := state.BucketStart(ev.Record.EventTime, 24*time.Hour)
		key, member := placesKey(ev, id), p.member(ev, day)
		if !placeQueued(b, key, member, day) {
			b.WindowAdd(key, member, day, state.Span{From: day, To: day}, mfaPlacesTTL)
		}
	}
	return nil
}

// placeQueued reports whether b already adds member at day to key: a
// user's calls of one day and place are one member, so the batch's other
// calls would add nothing (nobody reads what a use's add answers).
func placeQueued(b *state.Batch, key state.Key, member string, day time.Time) bool {
	for op := range b.OnKey(key) {
		switch o := op.(type) {
		case *state.WindowAddOp:
			if o.Member == member && o.At.Equal(day) && o.TTL == mfaPlacesTTL {
				return true
			}
		case *state.WindowAddReadOp:
			if o.Member == member && o.At.Equal(day) && o.TTL == mfaPlacesTTL {
				return true
			}
		}
	}
	return false
}

// observeRemovalPlace records a user's own removal as a use of its place
// and reads the places the user worked from on earlier days.
func (m *mfaRemoval) observeRemovalPlace(b *state.Batch, id string) {
	p, ok := m.d.place(m.ev)
	if !ok {
		return
	}
	t := m.ev.Record.EventTime
	day := state.BucketStart(t, 24*time.Hour)
	m.place = p
	m.places = b.WindowAddRead(placesKey(m.ev, id), p.member(m.ev, day), day, placesSpan(t), mfaPlacesLimit, mfaPlacesTTL)
}

// placeHistory is what the user's earlier days say of the removal's place.
type placeHistory struct {
	countries     int  // distinct countries the user worked from
	countryKnown  bool // the removal's country among them
	hostingDays   int  // distinct days the removal's hosting network was used
	otherCredDays int  // of which by another credential than the removal's
}

// judgePlace reads the removal's place against the user's members.
func (m *mfaRemoval) judgePlace(w state.Window) placeHistory {
	t := m.ev.Record.EventTime
	hostingFrom := state.BucketStart(t.Add(-mfaHostingHabit), 24*time.Hour).Format(time.DateOnly)
	countriesTo := state.BucketStart(t.Add(-mfaCountryGap), 24*time.Hour).Format(time.DateOnly)
	var h placeHistory
	countries := map[string]bool{}
	days, other := map[string]bool{}, map[string]bool{}
	for _, member := range w.Members {
		p, day, ok := parseMFAPlace(member)
		switch {
		case !ok:
		case !p.hosting:
			if day <= countriesTo {
				countries[p.value] = true
			}
		case p.value == m.place.value && day >= hostingFrom:
			days[day] = true
			if p.cred != m.place.cred {
				other[day] = true
			}
		}
	}
	h.countries, h.countryKnown = len(countries), countries[m.place.value]
	h.hostingDays, h.otherCredDays = len(days), len(other)
	return h
}
