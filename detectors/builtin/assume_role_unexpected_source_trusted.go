package builtin

import (
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// learnTrusted records a sign-in from trusted_networks in the person's
// history without judging it: when the history started, the latest
// sign-in, the country and, for a workload, the role. Not the network: a
// trusted network is never one of the person's own, so the first sign-in
// outside them stays a new network. Before, a person seen only in the
// office had no history at all, and a stolen key of an office developer
// assuming the admin role from an attacker's network was that person's
// "first sign-in", which only learns.
func (d *AssumeRoleUnexpectedSource) learnTrusted(ev *detectors.Event, b *state.Batch, who signInWho, role string, net signInNet) {
	r := ev.Record
	w := d.opts.Window
	key := func(name string) state.Key { return ev.Key(who.id, name) } // names are constants: joined per call, they allocated
	side := "assume-src:first:outside-aws"
	if net.inAWS {
		side = "assume-src:first:inside-aws"
	}
	detectors.Mark(b, key(side), r.EventTime, state.KeepEarliest, w)
	if net.country != "" {
		b.NoveltyAddBy(key("assume-src:countries"), net.country, ev.Owner(), r.EventTime, w)
		detectors.Mark(b, key("assume-src:last"), r.EventTime, state.KeepLatest, w)
	}
	if who.workload && role != "" {
		b.NoveltyAddBy(key("assume-src:roles"), role, ev.Owner(), r.EventTime, w)
	}
}
