package builtin

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// AccessKeyNewLocationID is the stable id of the access-key-new-location
// detector.
const AccessKeyNewLocationID = "access-key-new-location"

// AccessKeyNewLocationOptions are the detector's keys under
// detectors.access-key-new-location.
type AccessKeyNewLocationOptions struct {
	// Window is how long a country, network or prefix stays known for an
	// identity after it was last seen (sliding: every sighting refreshes it).
	Window time.Duration `yaml:"window"`
	// WarmUp is how much history (event time since the identity was first
	// seen) an identity needs before a new location raises; younger
	// identities only learn.
	WarmUp time.Duration `yaml:"warm_up"`
	// FallbackSeverity is the severity without GeoIP databases, when
	// locations are network prefixes.
	FallbackSeverity detectors.Severity `yaml:"fallback_severity"`
	// IPv4Prefix is the length of the IPv4 network prefixes the fallback
	// treats as one location.
	IPv4Prefix int `yaml:"ipv4_prefix"`
	// IPv6Prefix is the length of the IPv6 network prefixes the fallback
	// treats as one location.
	IPv6Prefix int `yaml:"ipv6_prefix"`
}

// DefaultAccessKeyNewLocationOptions returns the defaults.
func DefaultAccessKeyNewLocationOptions() AccessKeyNewLocationOptions {
	return AccessKeyNewLocationOptions{
		Window:           90 * 24 * time.Hour,
		WarmUp:           7 * 24 * time.Hour,
		FallbackSeverity: detectors.SeverityMedium,
		IPv4Prefix:       16,
		IPv6Prefix:       32,
	}
}

func (o AccessKeyNewLocationOptions) validate() error {
	var errs []error
	if o.Window <= 0 {
		errs = append(errs, &detectors.OptionError{Key: "window", Reason: "must be positive"})
	}
	if o.WarmUp < 0 || o.WarmUp >= o.Window {
		errs = append(errs, &detectors.OptionError{Key: "warm_up", Reason: fmt.Sprintf("must lie in [0, window=%v)", o.Window)})
	}
	if o.FallbackSeverity < detectors.SeverityInfo || o.FallbackSeverity > detectors.SeverityCritical {
		errs = append(errs, &detectors.OptionError{Key: "fallback_severity", Reason: "must be INFO, LOW, MEDIUM, HIGH or CRITICAL"})
	}
	if o.IPv4Prefix < 8 || o.IPv4Prefix > 32 {
		errs = append(errs, &detectors.OptionError{Key: "ipv4_prefix", Reason: "must lie in [8, 32]"})
	}
	if o.IPv6Prefix < 16 || o.IPv6Prefix > 128 {
		errs = append(errs, &detectors.OptionError{Key: "ipv6_prefix", Reason: "must lie in [16, 128]"})
	}
	return errors.Join(errs...)
}

// AccessKeyNewLocation raises when an identity is used from a country or
// autonomous system it has not been used from in the last Window, once its
// history spans WarmUp. A network the settings class as hosting, VPN or
// Tor (detectors.Settings.Network) skips both the warm-up and the "first
// sighting only learns" rule: a stolen key's first use from a VPS is the
// attack, not a baseline to learn. An identity with nothing known (never
// seen, or dormant past Window) is judged on its tenant's hosting networks
// instead (access_key_new_location_org.go). Without GeoIP databases it
// compares network prefixes instead, at FallbackSeverity.
//
// The identity is the access key for long-term keys (AKIA…), so each key
// has its own history, and the stable principal (the IAM user, or the role
// that issued a session) for temporary credentials, whose keys change every
// session.
//
// Sources that say nothing about where a person is are skipped: AWS service
// callers and service-name sources, private (RFC 1918, ULA), loopback,
// link-local, unspecified and multicast addresses, carrier-grade NAT
// (100.64.0.0/10), and calls rejected before authentication (their key id
// is unproven). Trusted networks of the settings only teach the country
// (observeTrusted).
type AccessKeyNewLocation struct {
	info     detectors.Info
	opts     AccessKeyNewLocationOptions
	settings *detectors.Settings
}

// NewAccessKeyNewLocation builds the detector from cfg.
func NewAccessKeyNewLocation(cfg detectors.Config) (detectors.Detector, error) {
	opts := DefaultAccessKeyNewLocationOptions()
	if err := cfg.Decode(&opts); err != nil {
		return nil, err
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	settings := cfg.OrgSettings()
	return &AccessKeyNewLocation{opts: opts, settings: settings, info: detectors.Info{
		ID:    AccessKeyNewLocationID,
		Title: "Credentials used from a new country or network",
		Description: "A long-term access key, or an IAM user's or root's session, is used from a country or autonomous " +
			"system (ASN) it was not used from in the last " + detectors.Days(opts.Window) + ", after at least " + detectors.Days(opts.WarmUp) +
			" of history; a hosting, VPN or Tor network (networks.hosting_asns) skips the warm-up, and the first use of an identity " +
			"with no history (never seen, or dormant past the window) from a hosting ASN no identity of the tenant used before " +
			"is MEDIUM. A person's role session " +
			"key that moves within its life to or from a hosting network or to another country raises too, in either order. " +
			"Uses from trusted_networks are never judged for keys but teach the key its country. Without GeoIP databases, " +
			"a new network prefix is reported at lower severity.",
		Severity:   detectors.SeverityHigh,
		Techniques: []string{"T1078.004"},
	}}, nil
}

// Info implements Detector.
func (d *AccessKeyNewLocation) Info() detectors.Info { return d.info }

// Notes implements Notable: without GeoIP the detector works on prefixes.
func (d *AccessKeyNewLocation) Notes() []string {
	if d.settings.GeoIP != nil {
		return nil
	}
	return []string{fmt.Sprintf("no GeoIP database configured (geoip.country_db, geoip.asn_db); "+
		"falling back to new /%d IPv4 and /%d IPv6 network prefixes at %v severity",
		d.opts.IPv4Prefix, d.opts.IPv6Prefix, d.opts.FallbackSeverity)}
}

// unauthenticated are error codes of calls rejected before the signature
// was verified: their access key id proves nothing about who called.
var unauthenticated = map[string]bool{
	"InvalidClientTokenId": true, "SignatureDoesNotMatch": true, "IncompleteSignature": true,
	"ExpiredToken": true, "ExpiredTokenException": true, "InvalidAccessKeyId": true,
	"AuthFailure": true, "UnrecognizedClientException": true, "InvalidToken": true,
}

// unauthenticatedCall reports whether code is in unauthenticated. Most
// calls carry no error code, and a lookup of "" in a map of nine hashes
// it all the same, on every event, in four detectors.
func unauthenticatedCall(code string) bool { return code != "" && unauthenticated[code] }

// cgnat is RFC 6598 shared address space: addresses behind carrier NAT,
// which place nobody.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// routableSource returns the source IP of r when it can place the caller,
// and whether it lies in the trusted networks of the settings. The address
// is judged once: a trusted source is publicSource's "no" for a reason
// this detector still learns from.
func (d *AccessKeyNewLocation) routableSource(ev *detectors.Event) (ip netip.Addr, trusted, ok bool) {
	r := ev.Record
	if r.ServiceCaller() || unauthenticatedCall(r.ErrorCode) || !r.SourceIsIP() {
		return netip.Addr{}, false, false
	}
	ip = r.SourceIP.Unmap()
	if !placesSomeone(ip) {
		return netip.Addr{}, false, false
	}
	return ip, d.settings.SourceTrusted(ev), true
}

// publicSource returns the source IP of r when it is a public address
// outside the trusted networks of s: one that can place the caller on the
// Internet.
func publicSource(ev *detectors.Event, s *detectors.Settings) (netip.Addr, bool) {
	r := ev.Record
	if !r.SourceIsIP() {
		return netip.Addr{}, false
	}
	ip := r.SourceIP.Unmap()
	if !placesSomeone(ip) || s.SourceTrusted(ev) {
		return netip.Addr{}, false
	}
	return ip, true
}

// locationIdentity names whose history r belongs to, for state keys and
// explanations: a long-term access key; an IAM user's or root's other
// sessions by the principal; and a person's role session by its own
// session key (session is then true). Other role sessions are not this
// detector's: a sign-in is judged per person by
// assume-role-unexpected-source, a workload's session by
// workload-credentials-off-workload; judged here by the role many people
// or runs share, every home and every runner would be a new place.
func locationIdentity(ev *detectors.Event) (key string, session bool) {
	r := ev.Record
	u := &r.UserIdentity
	if k := u.AccessKeyID; strings.HasPrefix(k, "AKIA") {
		return ev.KeyIdentity(k), false
	}
	switch u.Type {
	case "AssumedRole", "FederatedUser":
		if k := u.AccessKeyID; strings.HasPrefix(k, "ASIA") && ev.HumanSession() {
			var buf [64]byte
			return ev.String(append(append(buf[:0], "session:"...), k...)), true
		}
		return "", false
	case "SAMLUser", "WebIdentityUser", "IdentityCenterUser", "AWSService", "AWSAccount":
		return "", false
	}
	if p := r.StablePrincipal(); p != "" {
		return principalIdentity(ev, p), false
	}
	return "", false
}

// locationLabel names, for explanations, the identity locationIdentity
// keys r's history on (session as it reported). Only a finding needs it.
func locationLabel(r *cloudtrail.Record, session bool) string {
	k := r.UserIdentity.AccessKeyID
	switch {
	case strings.HasPrefix(k, "AKIA"):
		return "access key " + k
	case session:
		return "session key " + k + " of " + detectors.HabitPrincipal(r)
	}
	return r.StablePrincipal()
}

// dimension is one way of placing an address: its country, its ASN, or its
// network prefix when there is no database.
type dimension struct {
	name   string // Evidence key: "country", "asn", "network"
	key    string // state key name: "loc:" and name
	member string // e.g. "DE", "3320", "198.51.0.0/16"
	org    string // the ASN's organisation, for its label
	// stored is the member the novelty set holds: member, except for the
	// country of a person's session key, which is a place (sessionPlace).
	stored string
	seen   *state.Future[state.Novelty]
	// userSeen is the same add to the history of the key's IAM user, for
	// long-term keys: a new key inherits its user's history.
	userSeen *state.Future[state.Novelty]
}

// Observe implements Detector.
func (d *AccessKeyNewLocation) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	ip, trusted, ok := d.routableSource(ev)
	if !ok {
		return nil
	}
	id, session := locationIdentity(ev)
	if id == "" {
		return nil
	}
	// The slab hands the sighting out zeroed: only the fields set are
	// written (a composite literal wrote all of it again).
	s := sightings.New(ev)
	s.d, s.r, s.ev, s.id, s.ip, s.session, s.trusted = d, r, ev, id, ip, session, trusted
	s.hosting = !trusted && d.settings.SourceNetwork(ev).Kind == detectors.NetworkHosting
	s.dims, s.geo = d.place(ev, ip, s.placed[:0])
	if trusted {
		return d.observeTrusted(ev, b, id, s)
	}
	// For a long-term key this is detectors.KeyFirstSeenMark, which
	// caller-identity-recon reads.
	s.first = detectors.Mark(b, ev.Key(id, "loc:first-seen"), r.EventTime, state.KeepEarliest, d.opts.Window)
	for i := range s.dims {
		dim := &s.dims[i]
		dim.stored = dim.member
		if session && dim.name == "country" {
			dim.stored = sessionPlace(dim.member, s.hosting)
		}
		dim.seen = b.NoveltyAddBy(ev.Key(id, dim.key), dim.stored, ev.Owner(), r.EventTime, d.opts.Window)
	}
	if user := keyUser(r, id); user != "" {
		// Long-term keys also feed their user's history (the identity a
		// GetSessionToken session of the user has), so that a key the user
		// creates later starts from it rather than from a fresh warm-up.
		s.userFirst = detectors.Mark(b, ev.Key(user, "loc:first-seen"), r.EventTime, state.KeepEarliest, d.opts.Window)
		s.userLabel = r.UserIdentity.ARN
		for i := range s.dims {
			dim := &s.dims[i]
			dim.userSeen = b.NoveltyAddBy(ev.Key(user, dim.key), dim.member, ev.Owner(), r.EventTime, d.opts.Window)
		}
	}
	if !session {
		s.observeOrg(b)
	}
	return s
}

// sessionPlace is the member a person's session key keeps for a country:
// the country, and a hosting network apart from the rest of it. Two
// places in one session's life are a move whichever was scored first, so
// the record scored second raises in either order: a home ISP then a Tor
// exit in the same country, or the Tor exit then the home ISP.
func sessionPlace(country string, hosting bool) string {
	if hosting {
		return country + "|hosting"
	}
	return country
}

// observeTrusted learns from a use in trusted_networks. They say where the
// credentials' owner is, not from which ISP, so only the country is
// learned, and only with GeoIP: a key used only from the office and then
// from abroad raises (before, its first use outside them was its first
// sighting, which only learns), while the office worker's first use from
// home, in the office's country, still only learns. A long-term key or a
// principal never raises on a trusted use (its first-seen mark starts its
// warm-up); a person's session key does, when the place is new within its
// life: the same session seen abroad, scored before its office use, is
// the same move.
func (d *AccessKeyNewLocation) observeTrusted(ev *detectors.Event, b *state.Batch, id string, s *sighting) detectors.Evaluation {
	if !s.geo {
		return nil
	}
	i := slices.IndexFunc(s.dims, func(d dimension) bool { return d.name == "country" })
	if i < 0 {
		return nil
	}
	r := ev.Record
	dim := s.dims[i]
	dim.stored = sessionPlace(dim.member, false)
	dim.seen = b.NoveltyAddBy(ev.Key(id, "loc:country"), dim.stored, ev.Owner(), r.EventTime, d.opts.Window)
	if !s.session {
		detectors.Mark(b, ev.Key(id, "loc:first-seen"), r.EventTime, state.KeepEarliest, d.opts.Window)
		return nil
	}
	s.placed[0] = dim
	s.dims = s.placed[:1]
	return s
}

// place returns the dimensions ip, ev's source address, is compared on and
// whether they came from GeoIP (looked up once per event). An address no
// database knows falls back to its prefix.
// The dimensions are appended to dims (a sighting's own array: no
// allocation of their own).
func (d *AccessKeyNewLocation) place(ev *detectors.Event, ip netip.Addr, dims []dimension) ([]dimension, bool) {
	if loc, ok := d.settings.SourceLocation(ev); ok {
		if loc.Country != "" {
			dims = append(dims, dimension{name: "country", key: "loc:country", member: loc.Country})
		}
		if loc.ASN != 0 {
			dims = append(dims, dimension{name: "asn", key: "loc:asn", member: asnNumbers.get(loc.ASN), org: loc.ASNOrg})
		}
		return dims, true
	}
	bits := d.opts.IPv4Prefix
	if ip.Is6() {
		bits = d.opts.IPv6Prefix
	}
	p := netip.PrefixFrom(ip, bits).Masked().String()
	return append(dims, dimension{name: "network", key: "loc:network", member: p}), false
}

// label names the dimension for explanations, e.g. "ASN 3320 (Deutsche
// Telekom AG)".
func (dim *dimension) label() string {
	switch dim.name {
	case "asn":
		if dim.org != "" {
			return "ASN " + dim.member + " (" + dim.org + ")"
		}
		return "ASN " + dim.member
	}
	return dim.name + " " + dim.member
}

// sighting is one use of an identity from one place, being evaluated.
type sighting struct {
	d       *AccessKeyNewLocation
	r       *cloudtrail.Record
	ev      *detectors.Event
	id      string // locationIdentity
	ip      netip.Addr
	young   bool // a young key judged on its user's history
	dims    []dimension
	placed  [2]dimension // what dims holds: a country and an ASN at most
	geo     bool
	hosting bool // a hosting, VPN or Tor network: raises without warm-up
	trusted bool // in trusted_networks: only a session's move raises
	session bool // a person's session key, followed within its own life
	first   detectors.MarkResult
	// userFirst is the first sighting of a long-term key's IAM user, nil
	// for other identities; userLabel names the user.
	userFirst detectors.MarkResult
	userLabel string
	// orgFirst is the tenant's first sighting and orgASN a hosting ASN's
	// first use by any identity of the tenant (orgDim indexes its
	// dimension); nil for sessions and trusted uses (see
	// access_key_new_location_org.go).
	orgFirst detectors.MarkResult
	orgASN   detectors.MarkResult
	orgDim   int
}

// onceKey is the throttle key of raising dim. The incident is the identity
// in the new place, whichever record was the first sighting to be scored:
// no time in the key, so a shuffled stream names the same incident. The
// novelty set already makes a place new once; the throttle only merges
// retries.
func (s *sighting) onceKey(dim dimension) state.Key {
	if s.session {
		// A session key's move names no place: of two places a minute
		// apart, the one scored first is the known one, so the place
		// that raises depends on arrival order.
		return s.ev.Key(s.id, "loc:raised:session-moved")
	}
	return s.ev.Key(s.id, "loc:raised:"+dim.name+":"+dim.member)
}

// label names the identity for explanations.
func (s *sighting) label() string {
	if s.young {
		return locationLabel(s.r, s.session) + " (a young key, judged on the history of its user " + s.userLabel + ")"
	}
	return locationLabel(s.r, s.session)
}

// Findings implements Evaluation. A dimension raises when it is new and the
// identity's set for it was not empty: an empty set means nothing is known
// yet (a database added since, or history that expired), so it only learns.
// A hosting, VPN or Tor network skips the warm-up: nobody's baseline grows
// on a VPS, so once anything is known of an identity, a move to one raises.
// A long-term key still in its own warm-up is judged on its user's history.
// A person's session key raises only when it moves, within its life, to a
// hosting network or another country: a stolen browser or CLI session
// replayed elsewhere (people move between home and phone, not to a VPS).
func (s *sighting) Findings() ([]detectors.Finding, error) {
	h, err := s.history(s.first, func(d *dimension) *state.Future[state.Novelty] { return d.seen })
	if err != nil {
		return nil, err
	}
	if s.session {
		// A new place (another country, or a hosting network against the
		// rest of a country) is a move in either order; a second hosting
		// network in a country is one too.
		moved := slices.ContainsFunc(h.fresh, func(d dimension) bool { return d.name == "country" })
		if !s.geo || !moved && !(s.hosting && len(h.fresh) > 0) {
			return nil, nil
		}
		return []detectors.Finding{s.sessionFinding(h)}, nil
	}
	if h.span < s.d.opts.WarmUp && s.userFirst != nil {
		if h, err = s.history(s.userFirst, func(d *dimension) *state.Future[state.Novelty] { return d.userSeen }); err != nil {
			return nil, err
		}
		s.young = true
	}
	if len(h.fresh) == 0 && s.hosting {
		o, raise, err := s.unknownHosting(h)
		if err != nil || !raise {
			return nil, err
		}
		return []detectors.Finding{s.orgFinding(o)}, nil
	}
	if len(h.fresh) == 0 || (h.span < s.d.opts.WarmUp && !s.hosting) {
		return nil, nil
	}
	return []detectors.Finding{s.finding(h.fresh, h.sizes, h.since, h.span)}, nil
}

// history is what one identity's state says of a sighting.
type history struct {
	fresh []dimension   // dimensions new for a non-empty set
	sizes dimSizes      // set sizes before the sighting, per dimension
	since time.Time     // the identity's first sighting
	span  time.Duration // event time since then
}

// dimSizes are set sizes by dimension name, for the two dimensions a
// sighting has at most: a map of them was an allocation per sighting.
type dimSizes struct {
	names [2]string
	n     [2]int
}

// get is the size of name's set, 0 when unknown.
func (z *dimSizes) get(name string) int {
	for i, n := range z.names {
		if n == name {
			return z.n[i]
		}
	}
	return 0
}

// history reads the first-seen mark and the novelty results seen picks.
func (s *sighting) history(first detectors.MarkResult, seen func(*dimension) *state.Future[state.Novelty]) (history, error) {
	var m state.Mark
	if first != nil { // nil for a session's trusted use: a session has no warm-up
		var err error
		if m, err = first.Get(); err != nil {
			return history{}, err
		}
	}
	h := history{since: m.At}
	for i := range s.dims {
		n, err := seen(&s.dims[i]).Get()
		if err != nil {
			return history{}, err
		}
		h.sizes.names[i], h.sizes.n[i] = s.dims[i].name, n.Size
		if n.New && n.Size > 0 {
			h.fresh = append(h.fresh, s.dims[i])
		}
	}
	if m.Set && m.At.Before(s.r.EventTime) {
		h.span = s.r.EventTime.Sub(m.At)
	}
	return h, nil
}

// keyUser returns the state identity of the IAM user of a long-term key
// identity, "" for any other identity.
func keyUser(r *cloudtrail.Record, id string) string {
	if !strings.HasPrefix(id, "key:") || r.UserIdentity.Type != "IAMUser" || r.UserIdentity.ARN == "" {
		return ""
	}
	return principalIdentities.get(r.UserIdentity.ARN)
}

func (s *sighting) finding(fresh []dimension, sizes dimSizes, since time.Time, span time.Duration) detectors.Finding {
	sev, score := detectors.SeverityHigh, 75
	if !s.geo {
		sev, score = s.d.opts.FallbackSeverity, 50
	}
	f := detectors.NewFinding(s.d.info, s.r, sev, score)
	var news, before []string
	for _, dim := range fresh {
		news = append(news, dim.label())
		before = append(before, fmt.Sprintf("%d other %s", sizes.get(dim.name), plural(dim.name, sizes.get(dim.name))))
	}
	for _, dim := range s.dims {
		f.Evidence[dim.name] = dim.member
		f.Evidence[dim.name+"s_known"] = strconv.Itoa(sizes.get(dim.name))
	}
	label := s.label()
	f.Evidence["identity"] = label
	f.Evidence["new"] = strings.Join(news, ", ")
	f.Evidence["history_since"] = since.Format(time.RFC3339)
	f.Explanation = fmt.Sprintf("%s was used from %s in new %s; in the last %s it was seen from %s only (history since %s, %s)",
		label, s.ip, strings.Join(news, " and "), detectors.Days(s.d.opts.Window), strings.Join(before, " and "),
		since.Format(time.RFC3339), fmt.Sprintf("%.1f days of history", span.Hours()/24))
	if !s.geo {
		f.Explanation += "; no GeoIP database, so locations are network prefixes"
	}
	if s.hosting {
		f.Evidence["network_kind"] = "hosting"
		f.Explanation += "; the network is a hosting, VPN or Tor provider's, which raises without warm-up"
	}
	f.Once = &detectors.Once{Key: s.onceKey(fresh[0]), TTL: 2 * time.Hour}
	return f
}

func plural(name string, n int) string {
	switch {
	case name == "country" && n != 1:
		return "countries"
	case name == "asn":
		return "ASN" + map[bool]string{true: "", false: "s"}[n == 1]
	case n != 1:
		return name + "s"
	}
	return name
}
