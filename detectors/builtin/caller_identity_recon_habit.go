package builtin

import (
	"fmt"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// What caller-identity-recon learns about a principal, and how it judges a
// pair against it.
//
// Every probe and discovery call adds an hour-stamped member (at the hour's
// start, so a member's time never depends on which call of the hour came
// first) to the principal's learned sets: the hours it was active, the
// hours it was active from each network, the hours it probed, and the
// service and hour of each sensitive read. A call reads what lies in
// [t−HabitPeriod, t−reconHabitGap]: only hours that ended before the call,
// so a burst never teaches itself and the answer is the same in any
// arrival order.

// habit is the learned sets a call reads, as futures.
type habit struct {
	network string                      // reconNetwork of the call, "" when it places nobody
	hosting bool                        // the call came from a hosting, VPN or Tor network
	probes  *state.Future[state.Window] // hours the principal probed
	active  *state.Future[state.Window] // hours the principal was active
	net     *state.Future[state.Window] // hours the principal used network; nil when network is ""
	sens    *state.Future[state.Window] // "service@hour" of sensitive reads; nil for plain discovery
}

// learnedHabit is a habit resolved: counts of known hours and the
// sensitive services read.
type learnedHabit struct {
	probes, active, network int
	services                map[string]bool
}

// learn queues the call's learning and the reads of what the principal
// id did before it, into h, a zero habit.
func (d *CallerIdentityRecon) learn(ev *detectors.Event, b *state.Batch, id string, kind reconKind, h *habit) {
	r := ev.Record
	t := r.EventTime
	hour := state.BucketStart(t, time.Hour)
	member := habitHours.format(hour)
	known := hourSpan(state.Span{From: t.Add(-d.opts.HabitPeriod), To: t.Add(-reconHabitGap)})
	h.network = reconNetwork(ev, d.settings)
	if h.network != "" && r.SourceIsIP() {
		h.hosting = d.settings.SourceNetwork(ev).Kind == detectors.NetworkHosting
	}
	probes, sens := ev.Key(id, "recon:learn:probe"), ev.Key(id, "recon:learn:sens")
	switch kind {
	case reconProbe:
		h.probes = detectors.WindowAddRead(b, probes, member, hour, known, 0, d.habitTTL)
		h.sens = detectors.WindowRead(b, sens, known, reconHabitLimit)
	case reconSensitive:
		h.probes = detectors.WindowRead(b, probes, known, 0)
		h.sens = detectors.WindowAddRead(b, sens, serviceOf(r.EventSource)+"@"+member, hour, known, reconHabitLimit, d.habitTTL)
	default:
		h.probes = detectors.WindowRead(b, probes, known, 0)
	}
	h.active = detectors.WindowAddRead(b, ev.Key(id, "recon:learn:active"), member, hour, known, 0, d.habitTTL)
	if h.network != "" {
		h.net = detectors.WindowAddRead(b, ev.Key(id, reconNetKeys.get(h.network)), member, hour, known, 0, d.habitTTL)
	}
}

// reconNetKeys remembers the key names of the learned networks: a
// principal calls from a few, record after record.
var reconNetKeys = newStringMemo(func(network string) string { return "recon:learn:net:" + network })

// hourSpan is span narrowed to the hour starts it holds. Every member of
// the learned sets lies at an hour's start, so a read of either span
// finds the same members; calls of one hour then read one span, and the
// reads a batch repeats are queued once (detectors.WindowRead).
func hourSpan(span state.Span) state.Span {
	from := state.BucketStart(span.From, time.Hour)
	if from.Before(span.From) {
		from = from.Add(time.Hour)
	}
	return state.Span{From: from, To: state.BucketStart(span.To, time.Hour)}
}

// resolve reads the habit's futures.
func (h *habit) resolve() (learnedHabit, error) {
	var l learnedHabit
	for _, x := range []struct {
		f *state.Future[state.Window]
		n *int
	}{{h.probes, &l.probes}, {h.active, &l.active}, {h.net, &l.network}} {
		if x.f == nil {
			continue
		}
		w, err := x.f.Get()
		if err != nil {
			return l, err
		}
		*x.n = w.Count
	}
	if h.sens != nil {
		w, err := h.sens.Get()
		if err != nil {
			return l, err
		}
		l.services = make(map[string]bool)
		for _, m := range w.Members {
			svc, _, _ := strings.Cut(m, "@")
			l.services[svc] = true
		}
	}
	return l, nil
}

// judgement is what is new about a pair for its principal.
type judgement struct {
	first       bool     // no probe of the principal in the habit period
	fresh       bool     // no activity of the principal at all in the habit period
	human       bool     // a person's session (detectors.HumanSession)
	roams       bool     // newNetwork is a person's, and not a hosting network
	newNetwork  bool     // a principal with known networks, from one it did not use
	newServices []string // sensitive services read that the principal never read
	sensitive   bool     // the pair holds sensitive discovery
	// sensitiveHere: a probe and a sensitive call of the pair came from
	// the evaluated call's network, so its newness is theirs
	sensitiveHere bool
}

// raises reports whether anything about the pair is new.
func (j judgement) raises() bool {
	return j.first || j.newNetwork || len(j.newServices) > 0
}

// low reports the first probe of a principal with no history at all,
// followed only by ordinary discovery, from no new place: how every
// developer's and pipeline's first `aws sts get-caller-identity` then
// `aws s3 ls` looks on a new deployment or a new hire's first day. It is
// raised, for the record and for attack stories, but at LOW. A principal
// with a history that never probed (an application's key) keeps MEDIUM:
// that is the stolen key checking whose it is.
//
// A person's first probe in the habit period is LOW too: people run
// `aws sts get-caller-identity` when they switch profiles, every few weeks;
// a key or a workload that never probed does not.
//
// A person's new network that is not a hosting one is LOW as well (see
// roams).
func (j judgement) low() bool {
	if len(j.newServices) > 0 {
		return false
	}
	firstLow := !j.first || j.fresh || j.human
	networkLow := !j.newNetwork || j.roams
	return firstLow && networkLow && !(j.sensitive && j.first && !j.fresh)
}

// high reports whether the probe and sensitive discovery came from one
// network, new for the principal (and not a person roaming). Both calls
// must share it because each call knows only its own network's newness:
// either of them, whichever sees the other, judges the pair the same.
func (j judgement) high() bool {
	return j.sensitiveHere && j.newNetwork && !j.roams
}

// reasons renders what is new, for explanations.
func (j judgement) reasons(o CallerIdentityReconOptions, network string) []string {
	period := detectors.Days(o.HabitPeriod)
	var out []string
	if j.first {
		out = append(out, "its first identity probe in "+period)
	}
	if j.newNetwork {
		out = append(out, fmt.Sprintf("network %s, not used in %s", network, period))
	}
	if len(j.newServices) > 0 {
		out = append(out, fmt.Sprintf("sensitive discovery on %s, not read in %s", strings.Join(j.newServices, ", "), period))
	}
	return out
}
