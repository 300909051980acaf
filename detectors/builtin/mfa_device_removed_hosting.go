package builtin

import (
	"strconv"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// How mfa-device-removed judges where a user's own removal came from.
//
// The removal's own source is the evidence: a removal from a hosting, VPN
// or Tor network new for the user is HIGH. It is judged from the removal
// record alone, so it does not depend on batching, arrival order or the
// replica (a mark another detector writes after its batch did). A network
// is new when the user called from it in fewer than reconHostingKnownHours
// distinct hours of the mfaHostingHabit before the removal's hour, less
// reconHabitGap, so a jump host or VPN used every day is learned and the
// attack never teaches itself. Every call of an IAM user from such a
// network adds its hour to the user's set for that network: one write, no
// read, and none at all for calls from other networks.

// mfaHostingHabit is how long a user's hosting networks stay learned.
const mfaHostingHabit = 10 * 24 * time.Hour

// mfaHostingTTL keeps a network's hours for the habit period and the
// lateness.
const mfaHostingTTL = mfaHostingHabit + reconHabitGap + detectors.AllowedLateness

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

// habitSpan is the span of hour starts a removal in hour judges its
// network by: the habit period before it, less reconHabitGap.
func habitSpan(hour time.Time) state.Span {
	return state.Span{From: hour.Add(-mfaHostingHabit + time.Hour), To: hour.Add(-reconHabitGap)}
}

// hostingKey is the user id's set of hours on network net.
func hostingKey(ev *detectors.Event, id, net string) state.Key {
	return ev.Key(id, "mfa:hosting:"+net)
}

// observeUse records an IAM user's call from a hosting network, for the
// user's habit.
func (d *MFADeviceRemoved) observeUse(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	id := mfaPrincipal(ev.Record)
	if id == "" {
		return nil
	}
	if net, ok := d.hostingNet(ev); ok {
		hour := state.BucketStart(ev.Record.EventTime, time.Hour)
		b.WindowAdd(hostingKey(ev, id, net), habitHours.format(hour), hour, state.Span{From: hour, To: hour}, mfaHostingTTL)
	}
	return nil
}

// observeRemovalNet records a user's own removal from a hosting network
// as a use of it and reads the hours the user used it before.
func (m *mfaRemoval) observeRemovalNet(b *state.Batch, id, net string) {
	hour := state.BucketStart(m.ev.Record.EventTime, time.Hour)
	m.net = net
	m.netHours = b.WindowAddRead(hostingKey(m.ev, id, net), habitHours.format(hour), hour, habitSpan(hour), 0, mfaHostingTTL)
}
