package builtin

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// How access-key-enumeration keeps and judges state: per principal, two
// windowed sets per scale (one per grid: see enumGrid), a daily history of
// distinct reads to learn scanners, and when each network and service was
// first seen, and when a burst was last raised. Per read: at most 7 state
// operations, one per scale for its windows (see enumGrid).

// deniedSuffix marks a denied read in the window set: a denied call is a
// member of its own, so probing what a key may do adds to the score.
const deniedSuffix = "!"

// enumIncident is the aligned period of event time one enumeration
// incident covers per principal: a tool rerun within it, or a burst that
// goes on, is the same incident. Slow drips are one per principal per day.
const enumIncident = 6 * time.Hour

// enumScale is one of the three sliding scales.
type enumScale struct {
	name     string
	width    time.Duration
	min      int
	severity detectors.Severity
	once     time.Duration // one finding per principal per aligned period
	onceName string
	grid     enumGrid
}

// newScales are the scales of o, built once per detector.
func newScales(o AccessKeyEnumerationOptions) [3]enumScale {
	return [3]enumScale{
		{"window", o.Window, o.MinScore, detectors.SeverityHigh, enumIncident, "enum:once:", newEnumGrid("window", o.Window, o.AllowedLateness)},
		{"burst", o.BurstWindow, o.BurstMinScore, detectors.SeverityHigh, enumIncident, "enum:once:", newEnumGrid("burst", o.BurstWindow, o.AllowedLateness)},
		{"drip", o.DripWindow, o.DripMinScore, detectors.SeverityMedium, 24 * time.Hour, "enum:drip:", newEnumGrid("drip", o.DripWindow, o.AllowedLateness)},
	}
}

// enumPrincipal is the state identity reads are counted under: the stable
// principal (an IAM user across its access keys, a role across its
// sessions, root), except that an Identity Center permission set's role is
// shared by people, so its sessions count per person (the session name,
// which Identity Center sets to the user and the caller cannot choose).
func enumPrincipal(ev *detectors.Event) string {
	r := ev.Record
	u := &r.UserIdentity
	if u.Type == "AssumedRole" && detectors.IdentityCenterRole(u.SessionIssuer.ARN) {
		if i := strings.LastIndexByte(u.ARN, '/'); i >= 0 && i < len(u.ARN)-1 {
			return "principal:" + u.SessionIssuer.ARN + "/" + u.ARN[i+1:]
		}
	}
	if p := r.StablePrincipal(); p != "" {
		return principalIdentity(ev, p)
	}
	return ev.KeyIdentity(u.AccessKeyID)
}

// principalIdentity is "principal:" + p, for the principal of ev (see
// detectors.Event.PrincipalIdentity).
func principalIdentity(ev *detectors.Event, p string) string {
	return ev.PrincipalIdentity(p, principalIdentities.get)
}

// principalIdentities and enumServiceKeys remember the state identity of
// a principal ("principal:" and it) and the key name of a service's first
// read: a principal acts record after record, and the concatenation
// allocated on each.
var (
	principalIdentities = newStringMemo(func(p string) string { return "principal:" + p })
	enumServiceKeys     = newStringMemo(func(svc string) string { return "enum:seen:svc:" + svc })
)

// observe queues the state a counted read needs.
func (d *AccessKeyEnumeration) observe(ev *detectors.Event, b *state.Batch, read *enumRead) detectors.Evaluation {
	r, t := ev.Record, ev.Record.EventTime
	id := enumPrincipal(ev)
	m := read.members[0]
	if r.Denied() {
		m = read.members[1]
	}
	e := enumerations.New(ev)
	*e = enumeration{d: d, ev: ev, id: id, svc: read.svc, sensitive: read.sensitive}
	sc := &d.sc
	// The limit is the scale's threshold: every member weighs at least 1,
	// so a window holding more members crosses whatever they are, and one
	// holding fewer is returned whole and weighed exactly.
	//
	// The two windows of a scale are on opposite grids, so one operation
	// on the scale's pair adds to and reads both: half h of the pair is
	// grid h (see enumGrid).
	for i := range sc {
		g := &sc[i].grid
		k := alignedIndex(t, g.width)
		wins := g.windowsAt(k)
		var members [2]string
		var spans [2]state.Span
		for j := range wins {
			grid, tag := g.indexed(k - 1 + int64(j))
			members[grid], spans[grid] = m.tagged(i, g, grid, tag), wins[j]
			if j == 0 {
				e.first[i] = uint8(grid)
			}
		}
		e.windows[i] = detectors.WindowPairAddRead(b, ev.Key(id, g.pair), members, t, spans,
			sc[i].min, 2*sc[i].width+d.opts.AllowedLateness)
	}
	days := d.opts.HistoryDays + 1
	e.days = detectors.BucketAdd(b, ev.Key(id, "enum:days"), read.action, t, 24*time.Hour, days,
		time.Duration(days)*24*time.Hour+d.opts.AllowedLateness)
	familiarTTL := d.opts.FamiliarAfter + time.Duration(d.opts.HistoryDays)*24*time.Hour
	e.svcSeen = detectors.Mark(b, ev.Key(id, read.svcKey), t, state.KeepEarliest, familiarTTL)
	if name := d.networkKey(ev, r.UserAgent); name != "" {
		e.net = name[len(enumNetKeyPrefix):]
		e.netSeen = detectors.Mark(b, ev.Key(id, name), t, state.KeepEarliest, familiarTTL)
	}
	e.raised = detectors.ReadMark(b, ev.Key(id, "enum:raised"))
	return e
}

// enumWindows are the two windows of twice w that hold t, aligned on w:
// every span of w holding t lies whole in one of them, as it did in the
// ±w a read once counted around its own time. Each is read whole by every
// read that adds to it (see AccessKeyEnumeration), in its grid's set (see
// enumGrid).
func enumWindows(t time.Time, w time.Duration) [2]state.Span {
	return enumWindowsAt(alignedIndex(t, int64(w)), int64(w))
}

// enumWindowsAt is enumWindows of a time whose aligned index of width w
// nanoseconds is k (see alignedIndex): the windows of indices k−1 and k,
// worked out in integers, as observe needs the index anyway.
func enumWindowsAt(k, w int64) [2]state.Span {
	var out [2]state.Span
	for g := range out {
		from := (k - 1 + int64(g)) * w
		out[g] = state.Span{From: time.Unix(0, from).UTC(), To: time.Unix(0, from+2*w-1).UTC()}
	}
	return out
}

// enumNetKeyPrefix starts the key name of a network's first read; the
// rest is the network and tool (see networkKey).
const enumNetKeyPrefix = "enum:seen:net:"

// networkKey is the key name of the first read from where ev came from
// with the tool of userAgent: enumNetKeyPrefix, network(ev)'s member, "|"
// and userAgentTool (where a scanner reads from includes what it reads
// with: an aws cli on the terraform runner is not terraform). "" when the
// source is not an address. It is network(ev) built in one allocation:
// every counted read names it, and only a finding needs the label; the
// name itself is interned (see enumNetKeys).
func (d *AccessKeyEnumeration) networkKey(ev *detectors.Event, userAgent string) string {
	r := ev.Record
	var buf [96]byte
	b := append(buf[:0], enumNetKeyPrefix...)
	switch {
	case r.VPCEndpointID != "":
		b = append(b, r.VPCEndpointID...)
	case !r.SourceIsIP():
		return ""
	default:
		loc, ok := detectors.GeoLocation{}, false
		if d.settings.GeoIP != nil {
			loc, ok = d.settings.SourceLocation(ev)
		}
		if ok && loc.ASN != 0 {
			b = strconv.AppendUint(append(b, "AS"...), uint64(loc.ASN), 10)
			break
		}
		b = d.prefix(r.SourceIP.Unmap()).AppendTo(b)
	}
	b = append(append(b, '|'), userAgentTool(userAgent)...)
	return d.netKeys.intern(b)
}

// prefix is the network an address is compared on without an ASN.
func (d *AccessKeyEnumeration) prefix(ip netip.Addr) netip.Prefix {
	bits := d.opts.IPv4Prefix
	if ip.Is6() {
		bits = d.opts.IPv6Prefix
	}
	return netip.PrefixFrom(ip, bits).Masked()
}

// network names where r came from for a learned scanner's baseline: its
// VPC endpoint, its ASN when GeoIP knows it, else its prefix. "" when the
// source is not an address.
func (d *AccessKeyEnumeration) network(ev *detectors.Event) (member, label string) {
	r := ev.Record
	if r.VPCEndpointID != "" {
		return r.VPCEndpointID, "VPC endpoint " + r.VPCEndpointID
	}
	if !r.SourceIsIP() {
		return "", ""
	}
	ip := r.SourceIP.Unmap()
	if d.settings.GeoIP != nil {
		if loc, ok := d.settings.SourceLocation(ev); ok && loc.ASN != 0 {
			asn := "AS" + strconv.FormatUint(uint64(loc.ASN), 10)
			if loc.ASNOrg != "" {
				return asn, asn + " (" + loc.ASNOrg + ")"
			}
			return asn, asn
		}
	}
	p := d.prefix(ip).String()
	return p, "network " + p
}

// enumeration is one counted read being evaluated.
type enumeration struct {
	d         *AccessKeyEnumeration
	ev        *detectors.Event
	id, svc   string
	sensitive bool   // the read is sensitive (Sensitive)
	net       string // network and tool ("AS16509|terraform"), "" when none (see networkKey)

	windows          [3]*state.Future[[2]state.Window] // per scale, its pair's reads of enumWindows(event time, its width), by grid
	first            [3]uint8                          // per scale, the grid of the first of enumWindows
	days             *state.Future[[]int]
	svcSeen, netSeen detectors.MarkResult
	raised           detectors.MarkResult
}

// tally is what a window's members weigh.
type tally struct {
	score, members, denied, sensitive int
	services, sample                  []string // services sorted; sample earliest first
}

// crosses reports whether weigh(w, tagLen).score >= threshold, weighing the members only
// when their count does not decide: every member weighs at least 1 and at
// most SensitiveWeight, and breadth adds at most maxBreadth, so a window
// of threshold reads crosses and one too small to reach it by any weights does
// not, as most windows a benign read weighs are.
func (d *AccessKeyEnumeration) crosses(w state.Window, tagLen, threshold int) bool {
	switch {
	case w.Count >= threshold:
		return true
	case w.Count+len(w.Members)*(d.opts.SensitiveWeight-1)+maxBreadth < threshold:
		return false
	}
	return d.score(w, tagLen) >= threshold
}

// score is weigh(w, tagLen).score, without building the tally: most windows a
// read weighs stay under their threshold, and only one that crosses is
// described. Services beyond maxBreadth+1 add nothing, so it keeps no more.
func (d *AccessKeyEnumeration) score(w state.Window, tagLen int) int {
	var svcs [maxBreadth + 1]string
	n, score := 0, w.Count-len(w.Members)
	for _, m := range w.Members {
		a, _ := strings.CutSuffix(untag(m, tagLen), deniedSuffix)
		svc := memberService(a)
		if d.sensitiveRead(svc, a) {
			score += d.opts.SensitiveWeight
		} else {
			score++
		}
		if n < len(svcs) && !slices.Contains(svcs[:n], svc) {
			svcs[n] = svc
			n++
		}
	}
	return score + min(maxBreadth, max(0, n-1))
}

// weigh tallies a window whose members carry tags of tagLen bytes (see
// enumGrid).
func (d *AccessKeyEnumeration) weigh(w state.Window, tagLen int) tally {
	// The sample is the earliest members, untagged. Services are sized
	// once.
	n := min(len(w.Members), enumSample)
	t := tally{members: w.Count}
	if n > 0 {
		t.sample = make([]string, n)
		for i, m := range w.Members[:n] {
			t.sample[i] = untag(m, tagLen)
		}
		t.services = make([]string, 0, n)
	}
	seen := map[string]bool{}
	for _, m := range w.Members {
		a, denied := strings.CutSuffix(untag(m, tagLen), deniedSuffix)
		svc := memberService(a)
		weight := 1
		if d.sensitiveRead(svc, a) {
			weight = d.opts.SensitiveWeight
			t.sensitive++
		}
		t.score += weight
		if denied {
			t.denied++
		}
		if !seen[svc] {
			seen[svc] = true
			t.services = append(t.services, svc)
		}
	}
	t.score += min(maxBreadth, max(0, len(t.services)-1)) + w.Count - len(w.Members)
	slices.Sort(t.services) // built here, so sorted in place
	return t
}

// maxBreadth caps what services beyond the first add to a window's score.
// Breadth is a tool's mark, but a person's morning also touches one thing
// in each of eight services; past four, more services say no more.
const maxBreadth = 4

// enumSample is how many reads a finding names as evidence.
const enumSample = 8

// memberService is the service a counted read maps: its prefix, or for a
// Cloud Control read the service of its resource type.
func memberService(action string) string {
	// strings.Cut's, without its calls down to IndexByte: every member of
	// every window weighed asks.
	svc, rest := action, ""
	if i := strings.IndexByte(action, ':'); i >= 0 {
		svc, rest = action[:i], action[i+1:]
	}
	// The suffix first: it is one byte to compare, and most reads are not
	// Cloud Control's.
	if strings.HasSuffix(rest, ")") {
		if i := strings.IndexByte(rest, '('); i >= 0 {
			return cloudControlService(rest[i+1 : len(rest)-1])
		}
	}
	return svc
}

// sensitiveIn says what Sensitive holds of one service: the service whole
// (sensitiveWhole), or actions that map it (sensitiveActions).
type sensitiveIn uint8

const (
	sensitiveWhole sensitiveIn = 1 << iota
	sensitiveActions
)

// sensitiveRead reports d.sensitive[svc] || d.sensitive[action] for an
// action of a window and svc = memberService(action), looking the action
// up only when an action of svc is sensitive: weighing a window took two
// map lookups per member, and most members' services hold no sensitive
// action. Any action Sensitive names maps the service it is filed under
// (see NewAccessKeyEnumeration), so none is missed.
//
// The services a window's members name are mostly not sensitive (ec2, s3,
// logs, monitoring), and the map lookup was half of weighing a member
// (121 of some 300 instructions): a nameFilter of the filed services rules
// most of them out first.
func (d *AccessKeyEnumeration) sensitiveRead(svc, action string) bool {
	if !d.sensitiveSvcs.mayHold(svc) {
		return false
	}
	in := d.sensitiveSvc[svc]
	return in&sensitiveWhole != 0 || (in&sensitiveActions != 0 && d.sensitive[action])
}

// setSensitive files list (Sensitive) for sensitiveRead.
func (d *AccessKeyEnumeration) setSensitive(list []string) {
	d.sensitive = make(map[string]bool, len(list))
	d.sensitiveSvc = make(map[string]sensitiveIn, len(list))
	for _, s := range list {
		d.sensitive[s] = true
		d.sensitiveSvc[s] |= sensitiveWhole
		d.sensitiveSvc[memberService(s)] |= sensitiveActions
	}
	d.sensitiveSvcs = newNameFilter(slices.Collect(maps.Keys(d.sensitiveSvc))...)
}

// crossing is a window of a scale whose reads crossed its threshold. Its
// tally is taken (weigh) only for a finding: a learned scanner's windows
// cross on every read and are mostly judged usual.
type crossing struct {
	sc   *enumScale
	span state.Span
	w    state.Window
}

// crossings are the windows this read's view shows crossing, one per
// incident: every window of the fast scales, each of which every read
// adding to it evaluates, so the last of them to arrive sees it whole and
// raises its incident whatever the order; the slow scale only when no fast
// one crossed.
//
// They are appended to out: a learned scanner's reads cross record after
// record, and a slice of their own was an allocation each.
func (e *enumeration) crossings(out []crossing) ([]crossing, error) {
	sc := &e.d.sc
	// The incidents raised so far, by once name and period: a few at
	// most, compared as they are rather than joined into a string.
	type incident struct{ name, period string }
	var seen [len(e.d.sc) * 2]incident
	nseen := 0
	for i := range sc {
		if sc[i].name == "drip" && len(out) > 0 {
			break
		}
		// The windows' spans are worked out only for a window that
		// crosses: most reads cross none, and the spans were a third of
		// what judging them cost.
		var spans [2]state.Span
		worked := false
		grids, err := e.windows[i].Get()
		if err != nil {
			return nil, err
		}
		for j := range spans {
			w := grids[uint8(j)^e.first[i]]
			if !e.d.crosses(w, sc[i].grid.tagLen, sc[i].min) {
				continue
			}
			if !worked {
				g := &sc[i].grid
				spans, worked = *g.windowsAt(alignedIndex(e.ev.Record.EventTime, g.width)), true
			}
			k := incident{sc[i].onceName, enumPeriod(spans[j], sc[i].once)}
			if slices.Contains(seen[:nseen], k) {
				continue
			}
			seen[nseen] = k
			nseen++
			out = append(out, crossing{&sc[i], spans[j], w})
		}
	}
	return out, nil
}

// enumPeriod names the aligned period of length once an incident of the
// window span belongs to: the window's, not the record's, so whichever
// record of the window is scored last raises the same incident. It is the
// period of the window's middle: a burst starting on a period's edge lies
// in two windows whose middles share that period.
func enumPeriod(span state.Span, once time.Duration) string {
	return windowIDs.format(state.BucketStart(span.From.Add((span.To.Sub(span.From)+time.Nanosecond)/2), once))
}

// Findings implements detectors.Evaluation.
func (e *enumeration) Findings() ([]detectors.Finding, error) {
	var buf [len(e.d.sc) * 2]crossing // at most one per window read
	found, err := e.crossings(buf[:0])
	if err != nil || len(found) == 0 {
		return nil, err
	}
	if found[0].sc.name == "drip" {
		// A drip whose reads include a burst already raised (the mark is
		// where the burst crossed; it went on up to Window after) is that
		// incident's tail, not a slow enumeration of its own.
		m, err := e.raised.Get()
		if err != nil {
			return nil, err
		}
		if m.Set && absDuration(e.ev.Record.EventTime.Sub(m.At)) <= found[0].sc.width+e.d.opts.Window {
			return nil, nil
		}
	}
	p, err := e.profile()
	if err != nil {
		return nil, err
	}
	// A learned scanner's deviation is the read's, not a window's: while
	// it reads as it always does (10k of the realistic month's reads), it
	// is quiet before anything is built.
	learned := detectors.SeverityUnknown
	if p.learned {
		if learned = p.deviation(e.d.settings.GeoIP != nil); learned == detectors.SeverityUnknown {
			return nil, nil
		}
	}
	out := make([]detectors.Finding, 0, len(found))
	for _, c := range found {
		sev := c.sc.severity
		if p.learned {
			sev = learned
		}
		out = append(out, e.finding(c.sc, c.span, e.d.weigh(c.w, c.sc.grid.tagLen), p, sev))
	}
	return out, nil
}

// profile is what the principal's history says about it.
type profile struct {
	enumDays, days    int // days of the history with MinScore distinct reads; days kept
	today, usual      int // distinct reads today; the most on an earlier day
	learned           bool
	newNet, newSvc    bool
	volume            bool
	svc               string
	svcFirst, netFrom time.Time
}

func (e *enumeration) profile() (profile, error) {
	days, err := e.days.Get()
	if err != nil {
		return profile{}, err
	}
	p := profile{days: len(days) - 1, svc: e.svc}
	if len(days) == 0 {
		return p, nil
	}
	p.today = days[len(days)-1]
	for _, n := range days[:len(days)-1] {
		if n >= e.d.opts.MinScore {
			p.enumDays++
		}
		p.usual = max(p.usual, n)
	}
	p.learned = p.enumDays >= e.d.opts.LearnDays
	if !p.learned {
		return p, nil
	}
	at := e.ev.Record.EventTime
	familiar := func(f detectors.MarkResult) (bool, error) {
		if f == nil {
			return true, nil
		}
		m, err := f.Get()
		return m.Set && at.Sub(m.At) >= e.d.opts.FamiliarAfter, err
	}
	known, err := familiar(e.svcSeen)
	if err != nil {
		return p, err
	}
	// A scanner's coverage grows (a new check, a service the account just
	// started using); what changes its meaning is a sensitive service it
	// never read before.
	p.newSvc = !known && e.sensitive
	if known, err = familiar(e.netSeen); err != nil {
		return p, err
	}
	p.newNet = !known
	p.volume = p.today > 2*p.usual && p.today-p.usual >= e.d.opts.MinScore
	return p, nil
}

// netLabel names the read's network and tool for an explanation, "" when
// it has none. It is built only for the explanation that names it: a
// learned scanner's reads cross their windows record after record, and
// building it in profile, for every one of them, cost three allocations
// a read that a quiet scanner then threw away.
func (e *enumeration) netLabel() string {
	if e.net == "" {
		return ""
	}
	_, label := e.d.network(e.ev)
	return label + " with " + userAgentTool(e.ev.Record.UserAgent)
}

// change names what changed in a learned scanner, for its incident.
func (p profile) change(e *enumeration) string {
	switch {
	case p.newNet:
		return "net:" + e.net
	case p.newSvc:
		return "svc:" + e.svc
	}
	return "volume"
}

// deviation is the severity of a learned scanner's read: unknown (quiet)
// while it reads as it always does.
func (p profile) deviation(geo bool) detectors.Severity {
	switch {
	case p.newNet && geo:
		return detectors.SeverityHigh // a new network, or a new tool on a known one
	case p.newNet, p.newSvc, p.volume:
		return detectors.SeverityMedium
	}
	return detectors.SeverityUnknown
}

func (e *enumeration) finding(sc *enumScale, span state.Span, t tally, p profile, sev detectors.Severity) detectors.Finding {
	r := e.ev.Record
	score := 70
	if sev < detectors.SeverityHigh {
		score = 50
	}
	score += min(15, (t.score-sc.min)/2) + min(10, 2*t.denied)
	f := detectors.NewFinding(e.d.info, r, sev, score)
	once := sc.onceName + enumPeriod(span, sc.once)
	if p.learned {
		// Each change of a scanner is an incident of its own: a thief on
		// a new network and one using another tool on the scanner's are
		// two stories, even within one period.
		once += ":" + p.change(e)
	}
	f.Once = detectors.OncePer(e.ev.Key(e.id, once), sc.once)
	if sc.name != "drip" {
		f.Marks = []detectors.SetMark{{Key: e.ev.Key(e.id, "enum:raised"), At: r.EventTime, Keep: state.KeepLatest,
			TTL: e.d.opts.DripWindow + e.d.opts.AllowedLateness}}
	}
	f.Evidence["principal"] = strings.TrimPrefix(e.id, "principal:")
	f.Evidence["scale"] = sc.name
	f.Evidence["weighted_score"] = strconv.Itoa(t.score)
	f.Evidence["min_score"] = strconv.Itoa(sc.min)
	f.Evidence["distinct_reads"] = strconv.Itoa(t.members)
	f.Evidence["sensitive_reads"] = strconv.Itoa(t.sensitive)
	f.Evidence["denied_reads"] = strconv.Itoa(t.denied)
	f.Evidence["services"] = strings.Join(t.services, ",")
	f.Evidence["sample_reads"] = strings.Join(t.sample, ",")
	f.Evidence["window_start"] = span.From.Format(time.RFC3339)
	f.Evidence["window_end"] = span.To.Add(time.Nanosecond).Format(time.RFC3339)
	f.Evidence["enumeration_days"] = fmt.Sprintf("%d/%d", p.enumDays, p.days)
	f.Explanation = e.explain(sc, span, t, p)
	return f
}

func (e *enumeration) explain(sc *enumScale, span state.Span, t tally, p profile) string {
	r := e.ev.Record
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s (counted across its keys and sessions; this call by access key %s) made %d distinct "+
		"read-only calls across %d services (%s) within the %v from %s to %s",
		strings.TrimPrefix(e.id, "principal:"), r.UserIdentity.AccessKeyID, t.members, len(t.services),
		strings.Join(t.services, ", "), span.To.Add(time.Nanosecond).Sub(span.From), span.From.Format(time.RFC3339), span.To.Add(time.Nanosecond).Format(time.RFC3339))
	if t.members >= sc.min {
		fmt.Fprintf(&sb, ", at least the %d of its %v threshold", sc.min, sc.name)
	} else {
		fmt.Fprintf(&sb, ", weighing %d against its %v threshold of %d (%d sensitive reads count %d)",
			t.score, sc.name, sc.min, t.sensitive, e.d.opts.SensitiveWeight)
	}
	if t.denied > 0 {
		fmt.Fprintf(&sb, "; %d were denied", t.denied)
	}
	fmt.Fprintf(&sb, "; first calls: %s", strings.Join(t.sample, ", "))
	if r.SourceIPAddress != "" {
		fmt.Fprintf(&sb, "; source %s", r.SourceIPAddress)
	}
	if p.learned {
		fmt.Fprintf(&sb, "; it reads this broadly on %d of its last %d days (a scanner), but", p.enumDays, p.days)
		var why []string
		if p.newNet {
			why = append(why, "it reads from "+e.netLabel()+", new to it")
		}
		if p.newSvc {
			why = append(why, "it reads "+p.svc+", a sensitive service new to it")
		}
		if p.volume {
			why = append(why, fmt.Sprintf("its %d distinct reads today are more than double its usual %d", p.today, p.usual))
		}
		sb.WriteString(" " + strings.Join(why, ", and "))
	} else if p.enumDays > 0 {
		fmt.Fprintf(&sb, "; it read this broadly on %d of its last %d days, not yet enough to be learned as a scanner", p.enumDays, p.days)
	}
	return sb.String()
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// userAgentTool names the tool a user agent identifies, without versions:
// its first product token ("aws-cli/2.22.4 …" → "aws-cli", "Boto3/1.34 …"
// → "boto3"), skipping the marketplace tokens that lead Terraform's
// ("APN/1.0 HashiCorp/1.0 Terraform/1.9.8 …" → "terraform"). "-" when
// there is none.
func userAgentTool(ua string) string { return userAgentTools.get(ua) }

// userAgentTools remembers firstProductToken per distinct user agent:
// splitting the agent into fields allocated on every counted read.
var userAgentTools = newStringMemo(firstProductToken)

// firstProductToken computes userAgentTool.
func firstProductToken(ua string) string {
	for _, tok := range strings.Fields(strings.TrimPrefix(ua, "[")) {
		name, _, _ := strings.Cut(tok, "/")
		name = strings.ToLower(strings.TrimRight(name, ",;"))
		if name == "" || name == "apn" || name == "hashicorp" {
			continue
		}
		if len(name) > 40 {
			name = name[:40]
		}
		return name
	}
	return "-"
}
