package builtin

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// How mfa-device-removed ties a user's own MFA removal to the same user's
// use from a hosting, VPN or Tor network, whichever record arrives first,
// in whichever batch and on whichever replica.
//
// Every call of an IAM user from a hosting network adds its network and
// hour to the user's hosting set (and to a set of that network's hours),
// then reads the user's recent removals; every self-removal adds itself to
// the user's removal set, then reads the hosting set. Each writes before
// it reads, on one Redis slot, so of a use and a removal at least one sees
// the other, also when two replicas score them at once.
//
// A use and a removal pair when the use's clock hour is the removal's or
// the one before (about the hour before, the same rule on both sides). The
// use's network counts only when it is new for the user: used in fewer
// than reconHostingKnownHours distinct hours of the mfaHostingHabit before
// the use's hour, less reconHabitGap (so the attack never teaches itself).
// A jump host or a VPN used every day is then learned, a thief's VPS is
// not. Both sides judge a use by its own hour, so they agree.

// mfaHostingHabit is how long a user's hosting networks stay learned.
const mfaHostingHabit = 10 * 24 * time.Hour

// mfaHabitLimit bounds the hosting hours a removal reads: one member per
// network and hour over the habit period.
const mfaHabitLimit = 2000

// mfaHostingTTL keeps the hosting sets for the habit period, the pairing
// hour and the lateness.
const mfaHostingTTL = mfaHostingHabit + 2*time.Hour + detectors.AllowedLateness

// mfaRemovedTTL keeps a removal for the uses of its hour and the hour
// before, arriving up to the allowed lateness late.
const mfaRemovedTTL = 3*time.Hour + detectors.AllowedLateness

// mfaHostingUse is an IAM user's call from a hosting network: its network
// ("asn:N") and the futures of what it judges.
type mfaHostingUse struct {
	net     string
	hour    time.Time
	known   *state.Future[state.Window] // hours of net in the use's habit span
	removed *state.Future[state.Window] // the user's removals paired with the use
}

// mfaPrincipal is the state identity of the IAM user behind r (any of its
// keys, its console session), "" when r is not an IAM user's call.
func mfaPrincipal(r *cloudtrail.Record) string {
	if r.UserIdentity.Type != "IAMUser" {
		return ""
	}
	if p := r.StablePrincipal(); p != "" {
		return "principal:" + p
	}
	return ""
}

// hostingNet returns the network of ev's source as "asn:N" when it is a
// hosting, VPN or Tor network that can place the caller.
func (d *MFADeviceRemoved) hostingNet(ev *detectors.Event) (string, bool) {
	r := ev.Record
	if r.ServiceCaller() || unauthenticated[r.ErrorCode] || !r.SourceIsIP() {
		return "", false
	}
	if _, ok := publicSource(r, d.settings); !ok {
		return "", false
	}
	n := d.settings.SourceNetwork(ev)
	if n.Kind != detectors.NetworkHosting || n.ASN == 0 {
		return "", false
	}
	return "asn:" + strconv.FormatUint(uint64(n.ASN), 10), true
}

// habitSpan is the span of hour starts a use in hour judges its network
// by: the habit period before it, less reconHabitGap.
func habitSpan(hour time.Time) state.Span {
	return state.Span{From: hour.Add(-mfaHostingHabit + time.Hour), To: hour.Add(-reconHabitGap)}
}

// observeHosting queues a hosting use's writes and reads.
func (d *MFADeviceRemoved) observeHosting(ev *detectors.Event, b *state.Batch, id, net string) *mfaHostingUse {
	t := ev.Record.EventTime
	u := &mfaHostingUse{net: net, hour: state.BucketStart(t, time.Hour)}
	member := habitHours.format(u.hour)
	b.WindowAdd(ev.Key(id, "mfa:hosting"), net+"@"+member, u.hour, state.Span{From: u.hour, To: u.hour}, mfaHostingTTL)
	u.known = b.WindowAddRead(ev.Key(id, "mfa:hosting:"+net), member, u.hour, habitSpan(u.hour), 0, mfaHostingTTL)
	u.removed = b.WindowRead(ev.Key(id, "mfa:removed"), state.Span{From: u.hour, To: u.hour.Add(2*time.Hour - time.Nanosecond)}, reconSample)
	return u
}

// observeSelfRemoval queues a user's own removal: its hosting use when it
// came from a hosting network, its member of the user's removal set, then
// the read of the user's hosting set around it.
func (d *MFADeviceRemoved) observeSelfRemoval(b *state.Batch, id string, m *mfaRemoval) *state.Future[state.Window] {
	ev, r := m.ev, m.ev.Record
	if net, ok := d.hostingNet(ev); ok {
		d.observeHosting(ev, b, id, net) // the removal is a use of the network too
	}
	target := m.target
	if target == "" {
		target = signInUser(r)
	}
	at := r.EventTime
	b.WindowAdd(ev.Key(id, "mfa:removed"), removedMember(m, target), at, state.Span{From: at, To: at}, mfaRemovedTTL)
	hour := state.BucketStart(at, time.Hour)
	return b.WindowRead(ev.Key(id, "mfa:hosting"), state.Span{From: hour.Add(-mfaHostingHabit), To: hour}, mfaHabitLimit)
}

// isNew resolves whether the use's network is new for the user.
func (u *mfaHostingUse) isNew() (bool, error) {
	w, err := u.known.Get()
	if err != nil {
		return false, err
	}
	return w.Count < reconHostingKnownHours, nil
}

// removedMember renders a self-removal for the user's removal set;
// parseRemoved reads it back.
func removedMember(m *mfaRemoval, target string) string {
	return stamp(m.ev.Record.EventTime) + " " + m.account + " " + target + " " + m.device
}

type removedCall struct {
	at                      time.Time
	account, target, device string
}

func parseRemoved(s string) (removedCall, error) {
	f := strings.SplitN(s, " ", 4)
	if len(f) != 4 {
		return removedCall{}, fmt.Errorf("mfa-device-removed: removal member %q: want 4 fields", s)
	}
	t, err := parseStamp(f[0])
	if err != nil {
		return removedCall{}, fmt.Errorf("mfa-device-removed: removal member %q: %w", s, err)
	}
	return removedCall{t, f[1], f[2], f[3]}, nil
}

// hostingFindings raises, on a hosting use, the HIGH finding of each
// removal of the user it pairs with, when its network is new: the removal
// scored before the use could not see it.
func (d *MFADeviceRemoved) hostingFindings(ev *detectors.Event, u *mfaHostingUse) ([]detectors.Finding, error) {
	w, err := u.removed.Get()
	if err != nil || w.Count == 0 {
		return nil, err
	}
	fresh, err := u.isNew()
	if err != nil || !fresh {
		return nil, err
	}
	r := ev.Record
	var out []detectors.Finding
	for _, m := range w.Members {
		rm, err := parseRemoved(m)
		if err != nil {
			return nil, err
		}
		if h := state.BucketStart(rm.at, time.Hour); !h.Equal(u.hour) && !h.Equal(u.hour.Add(time.Hour)) {
			continue
		}
		f := detectors.NewFinding(d.info, r, detectors.SeverityHigh, 85)
		f.Explanation = fmt.Sprintf("%s called %s from %s, network %s new for the user in %s, within the hour of "+
			"the removal of its own MFA device %q at %s (user %q, account %s): whoever works from there is removing the second factor",
			detectors.Actor(r), r.EventName, r.SourceIPAddress, u.net, detectors.Days(mfaHostingHabit), rm.device,
			rm.at.Format(time.RFC3339), rm.target, rm.account)
		f.Evidence["target_user"] = rm.target
		f.Evidence["serial_number"] = rm.device
		f.Evidence["self"] = "true"
		f.Evidence["hosting_network"] = u.net
		f.Evidence["removed_at"] = rm.at.Format(time.RFC3339)
		f.Once, f.Incident = d.incident(ev, rm.account, rm.target, rm.at, detectors.SeverityHigh)
		out = append(out, f)
	}
	return out, nil
}

// recentNewHosting returns a hosting network of the user, new for it,
// used in the removal's hour or the hour before, from the user's hosting
// set read around the removal; "" when there is none.
func recentNewHosting(w state.Window, removedAt time.Time) (string, error) {
	hour := state.BucketStart(removedAt, time.Hour)
	type use struct {
		net  string
		hour time.Time
	}
	var uses []use
	for _, m := range w.Members {
		net, at, ok := strings.Cut(m, "@")
		if !ok {
			return "", fmt.Errorf("mfa-device-removed: hosting member %q: no hour", m)
		}
		t, err := time.Parse(habitHours.layout, at)
		if err != nil {
			return "", fmt.Errorf("mfa-device-removed: hosting member %q: %w", m, err)
		}
		uses = append(uses, use{net, t})
	}
	for _, u := range uses {
		if !u.hour.Equal(hour) && !u.hour.Equal(hour.Add(-time.Hour)) {
			continue
		}
		span, known := habitSpan(u.hour), 0
		for _, o := range uses {
			if o.net == u.net && !o.hour.Before(span.From) && !o.hour.After(span.To) {
				known++
			}
		}
		if known < reconHostingKnownHours {
			return u.net, nil
		}
	}
	return "", nil
}

// incident is the throttle and the name of the removal incident of user
// target of account on the day of at, raised at sev: one per severity, a
// higher one covering the lower, so a removal first judged LOW rises to
// HIGH when the use that explains it is scored later, and never falls back.
func (d *MFADeviceRemoved) incident(ev *detectors.Event, account, target string, at time.Time, sev detectors.Severity) (*detectors.Once, string) {
	entity := detectors.IAMEntity(account, "user", target)
	day := state.BucketStart(at, 24*time.Hour).Format(time.DateOnly)
	once := detectors.OncePer(ev.Key(entity, "mfa-removed:"+sev.String()+":"+day), 24*time.Hour)
	if sev > detectors.SeverityLow {
		once.Covers = []state.Key{ev.Key(entity, "mfa-removed:"+detectors.SeverityLow.String()+":"+day)}
	}
	return once, d.info.ID + "/" + entity + "/mfa-removed:" + day
}
