package builtin

import (
	"fmt"
	"strconv"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// An identity with no history at all (a key never seen, or dormant for
// longer than the window, whose sets have expired) has no place of its
// own to compare a sighting with, so its first sighting only learns. From
// a hosting, VPN or Tor network that first sighting is exactly what a
// leaked key looks like: the thief's VPS is the first place it is seen in
// months. What is known then is the organisation's: whether any of its
// identities used that network before. A hosting ASN no identity of the
// tenant used in the window, except within orgHostingGap of this use,
// raises the identity's first sighting at MEDIUM once the tenant's own
// history spans the warm-up. An organisation that runs automation on that
// provider has taught it long before; the thief's own burst, even across
// several stolen keys, lies within the gap and teaches nothing.
//
// Both facts are KeepEarliest marks, so a shuffled stream reads the same
// earliest times: the tenant's first sighting (one write per batch, see
// detectors.Mark) and each hosting ASN's first use by anyone.

// orgHostingGap is how long before a sighting a hosting ASN must have been
// first used in the tenant for it to be the organisation's: a thief's
// burst across keys lies within it, a provider the organisation runs
// automation on was seen days before.
const orgHostingGap = 24 * time.Hour

// orgLocationIdentity is the state identity of the tenant's own clock.
const orgLocationIdentity = "tenant"

// hostingASNIdentities renders the state identity of a hosting ASN's
// first use in the tenant once per ASN: busy automation on a VPS repeats
// it on every call.
var hostingASNIdentities = newStringMemo(func(asn string) string { return "hosting-asn:" + asn })

// observeOrg queues the tenant's clock and, for a hosting network with an
// ASN, that ASN's first use in the tenant.
func (s *sighting) observeOrg(b *state.Batch) {
	t := s.r.EventTime
	s.orgFirst = detectors.Mark(b, s.ev.Key(orgLocationIdentity, "loc:first-seen"), t, state.KeepEarliest, s.d.opts.Window)
	if !s.hosting || !s.geo {
		return
	}
	for i := range s.dims {
		if dim := &s.dims[i]; dim.name == "asn" {
			s.orgASN = detectors.Mark(b, s.ev.Key(hostingASNIdentities.get(dim.member), "loc:org-first-seen"), t, state.KeepEarliest, s.d.opts.Window)
			s.orgDim = i
		}
	}
}

// orgHosting is what the tenant knows of a sighting's hosting ASN.
type orgHosting struct {
	since time.Time // the tenant's first sighting
	asn   state.Mark
}

// unknownHosting reports whether an identity with nothing known (h) is
// seen from a hosting ASN the tenant did not use before orgHostingGap,
// after a tenant history of the warm-up.
func (s *sighting) unknownHosting(h history) (orgHosting, bool, error) {
	if s.orgASN == nil || s.orgFirst == nil || h.sizes.n[0] > 0 || h.sizes.n[1] > 0 {
		return orgHosting{}, false, nil
	}
	t := s.r.EventTime
	org, err := s.orgFirst.Get()
	if err != nil {
		return orgHosting{}, false, err
	}
	asn, err := s.orgASN.Get()
	if err != nil {
		return orgHosting{}, false, err
	}
	if !org.Set || t.Sub(org.At) < s.d.opts.WarmUp {
		return orgHosting{}, false, nil
	}
	known := asn.Set && asn.At.Before(t.Add(-orgHostingGap))
	return orgHosting{since: org.At, asn: asn}, !known, nil
}

// orgFinding reports an identity with no history first seen from a hosting
// ASN new to the tenant.
func (s *sighting) orgFinding(o orgHosting) detectors.Finding {
	f := detectors.NewFinding(s.d.info, s.r, detectors.SeverityMedium, 60)
	dim := s.dims[s.orgDim]
	for _, d := range s.dims {
		f.Evidence[d.name] = d.member
		f.Evidence[d.name+"s_known"] = "0"
	}
	label := s.label()
	f.Evidence["identity"] = label
	f.Evidence["new"] = dim.label()
	f.Evidence["network_kind"] = "hosting"
	f.Evidence["history"] = "none"
	f.Evidence["org_history_since"] = o.since.Format(time.RFC3339)
	first := "no identity of the organisation used it in the last " + detectors.Days(s.d.opts.Window)
	if o.asn.Set {
		f.Evidence["org_asn_first_seen"] = o.asn.At.Format(time.RFC3339)
		first += " before " + o.asn.At.Format(time.RFC3339)
	}
	f.Explanation = fmt.Sprintf("%s has no history in the last %s (a key never seen, or dormant that long) and its first use came "+
		"from %s in %s, a hosting, VPN or Tor network: %s (the organisation's history since %s, %s days); "+
		"a leaked key's first use from a thief's VPS looks like this",
		label, detectors.Days(s.d.opts.Window), s.ip, dim.label(), first, o.since.Format(time.RFC3339),
		strconv.FormatFloat(s.r.EventTime.Sub(o.since).Hours()/24, 'f', 1, 64))
	f.Once = &detectors.Once{Key: s.onceKey(dim), TTL: 2 * time.Hour}
	return f
}
