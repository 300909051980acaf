package builtin

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// UnusualSessionNameID is the stable id of the unusual-session-name detector.
const UnusualSessionNameID = "unusual-session-name"

// UnusualSessionName raises a finding when a role is assumed under a session
// name (RoleSessionName) or source identity that does not look like the
// ones the organisation uses: an attacker with stolen credentials picks a
// name, and rarely the one the organisation's tooling would.
//
// With session_names.patterns configured, a name matching none of them is
// MEDIUM (once per role, name field and shape per throttle period). Without
// patterns it learns, per role (account + role ARN), the shapes of the names
// it sees (SessionNameShape) for history_days; once the role was seen on
// warmup_days distinct days, a name of a shape new for the role is LOW, and
// MEDIUM when it also looks random (LooksRandom). A random-looking name of a
// shape the role already uses raises nothing: that is how its tooling names
// sessions. AWS service callers and failed calls are never judged.
type UnusualSessionName struct {
	info     detectors.Info
	settings *detectors.Settings
	opts     UnusualSessionNameOptions
}

// UnusualSessionNameOptions are the keys under detectors.unusual-session-name.
type UnusualSessionNameOptions struct {
	// HistoryDays is how long learned shapes and active days are kept.
	HistoryDays int `yaml:"history_days"`
	// WarmupDays is how many distinct earlier days (UTC) a role must have
	// been seen on before a new shape raises anything.
	WarmupDays int `yaml:"warmup_days"`
	// MaxShapes is the number of known shapes past which a role has no convention to
	// depart from; new shapes raise LOW no more (random ones still do).
	MaxShapes int `yaml:"max_shapes"`
	// RandomMinLength is the shortest name that can look random.
	RandomMinLength int `yaml:"random_min_length"`
	// RandomMinEntropy is the Shannon entropy, in bits per character, above
	// which a name of at least random_min_length looks random.
	RandomMinEntropy float64 `yaml:"random_min_entropy"`
	// ThrottleMinutes is the period of one pattern finding per role, name
	// field and shape; 0 raises on every event.
	ThrottleMinutes int `yaml:"throttle_minutes"`
}

// DefaultUnusualSessionNameOptions returns the defaults.
func DefaultUnusualSessionNameOptions() UnusualSessionNameOptions {
	return UnusualSessionNameOptions{
		HistoryDays: 90, WarmupDays: 5, MaxShapes: 20,
		RandomMinLength: 12, RandomMinEntropy: 3.0, ThrottleMinutes: 24 * 60,
	}
}

// NewUnusualSessionName returns the detector configured by cfg.
func NewUnusualSessionName(cfg detectors.Config) (detectors.Detector, error) {
	opts := DefaultUnusualSessionNameOptions()
	if err := cfg.Decode(&opts); err != nil {
		return nil, fmt.Errorf("%s: %w", UnusualSessionNameID, err)
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := cfg.OrgSettings()
	return &UnusualSessionName{settings: s, opts: opts, info: detectors.Info{
		ID:    UnusualSessionNameID,
		Title: "Role assumed under an unusual session name",
		Description: "An AssumeRole* call named its session (RoleSessionName or SourceIdentity) against the " +
			"organisation's session_names.patterns (MEDIUM) or, without patterns, in a shape the role has not " +
			"used (LOW; MEDIUM when the name also looks random).",
		Severity:   detectors.SeverityMedium,
		Techniques: []string{"T1078.004", "T1036"},
	}}, nil
}

func (o UnusualSessionNameOptions) validate() error {
	var errs []error
	bad := func(key, reason string) { errs = append(errs, &detectors.OptionError{Key: key, Reason: reason}) }
	if o.HistoryDays < 1 {
		bad("history_days", "must be at least 1")
	}
	if o.WarmupDays < 0 || o.WarmupDays >= o.HistoryDays {
		bad("warmup_days", fmt.Sprintf("must be 0 or more and less than history_days (%d)", o.HistoryDays))
	}
	if o.MaxShapes < 1 {
		bad("max_shapes", "must be at least 1")
	}
	if o.RandomMinLength < 8 || o.RandomMinLength > 64 {
		bad("random_min_length", "must lie in 8–64 (session names are at most 64 characters)")
	}
	if o.RandomMinEntropy <= 0 || o.RandomMinEntropy > 6 {
		bad("random_min_entropy", "must lie in (0, 6] bits per character")
	}
	if o.ThrottleMinutes < 0 {
		bad("throttle_minutes", "must be 0 (off) or more")
	}
	return errors.Join(errs...)
}

// Info implements Detector.
func (d *UnusualSessionName) Info() detectors.Info { return d.info }

// Notes implements Notable.
func (d *UnusualSessionName) Notes() []string {
	if len(d.settings.SessionNamePatterns) > 0 {
		return nil
	}
	return []string{fmt.Sprintf("no session_names.patterns configured; learning session-name shapes per role "+
		"instead (silent for a role until it was seen on %d days)", d.opts.WarmupDays)}
}

// sessionName is one name a call chose, and which field it came from.
type sessionName struct{ field, value string }

// Interests implements detectors.Selective: STS's calls (Observe takes
// those whose names begin with AssumeRole).
func (d *UnusualSessionName) Interests() []detectors.Call {
	return []detectors.Call{{Source: "sts.amazonaws.com"}}
}

// Observe implements Detector.
func (d *UnusualSessionName) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	if r.EventSource != "sts.amazonaws.com" || !strings.HasPrefix(r.EventName, "AssumeRole") {
		return nil
	}
	if r.Failed() || r.ServiceCaller() {
		return nil
	}
	var chosen [2]sessionName
	role, names := chosenNames(ev, chosen[:0])
	if role == "" || len(names) == 0 {
		return nil
	}
	account := r.RecipientAccountID
	if account == "" {
		account = r.AccountID()
	}
	if len(d.settings.SessionNamePatterns) > 0 {
		c := sessionCall{d: d, ev: ev, role: role, identity: "role:" + account + ":" + role}
		names := slices.Clone(names) // chosen is this frame's
		return detectors.EvaluationFunc(func() ([]detectors.Finding, error) { return c.againstPatterns(names), nil })
	}
	c := sessionCalls.New(ev)
	*c = sessionCall{d: d, ev: ev, role: role, identity: "role:" + account + ":" + role}
	c.learned = c.learnedIn[:0]
	ttl := time.Duration(d.opts.HistoryDays) * 24 * time.Hour
	c.days = b.NoveltyAdd(ev.Key(c.identity, "session-names:days"), r.EventTime.UTC().Format(time.DateOnly), r.EventTime, ttl)
	for _, n := range names {
		shape := SessionNameShape(n.value)
		c.learned = append(c.learned, learnedName{sessionName: n, shape: shape,
			novelty: b.NoveltyAddBy(ev.Key(c.identity, shapesKey(n.field)), shape, ev.Owner(), r.EventTime, ttl)})
	}
	return c
}

// chosenNames returns the role a call assumes and the names its caller
// chose: roleSessionName (for AssumeRoleWithSAML, where the assertion
// chooses it, the last part of the assumed-role ARN) and sourceIdentity
// (request, else response). The caller's own propagated source identity
// (userIdentity.sessionContext.sourceIdentity) is not judged again: it was
// chosen, and judged, at the first hop of the chain.
//
// names are appended to names (a call chooses two at most).
func chosenNames(ev *detectors.Event, names []sessionName) (role string, _ []sessionName) {
	r := ev.Record
	type params struct {
		RoleARN         string `json:"roleArn"`
		RoleSessionName string `json:"roleSessionName"`
		SourceIdentity  string `json:"sourceIdentity"`
	}
	var p params
	var resp struct {
		AssumedRoleUser struct {
			ARN string `json:"arn"`
		} `json:"assumedRoleUser"`
		SourceIdentity string `json:"sourceIdentity"`
	}
	if q, ok := ev.RoleRequest(); ok {
		p.RoleARN, p.RoleSessionName, p.SourceIdentity = q.RoleARN, q.RoleSessionName, q.SourceIdentity
	} else {
		p, _ = ownParams[params](r) // odd shapes leave fields empty
	}
	_ = r.Response(&resp)
	session := p.RoleSessionName
	if session == "" && resp.AssumedRoleUser.ARN != "" {
		session = resp.AssumedRoleUser.ARN[strings.LastIndexByte(resp.AssumedRoleUser.ARN, '/')+1:]
	}
	if session != "" {
		names = append(names, sessionName{"roleSessionName", session})
	}
	source := p.SourceIdentity
	if source == "" {
		source = resp.SourceIdentity
	}
	if source != "" {
		names = append(names, sessionName{"sourceIdentity", source})
	}
	return p.RoleARN, names
}

// shapesKey names the set of shapes a role's field holds: built once for
// the two fields chosenNames returns, not on every call.
func shapesKey(field string) string {
	switch field {
	case "roleSessionName":
		return "session-names:shapes:roleSessionName"
	case "sourceIdentity":
		return "session-names:shapes:sourceIdentity"
	}
	return "session-names:shapes:" + field
}

// learnedName is one name judged against what the role used before.
type learnedName struct {
	sessionName
	shape   string
	novelty *state.Future[state.Novelty]
}

// sessionCall is one AssumeRole* call being judged.
type sessionCall struct {
	d        *UnusualSessionName
	ev       *detectors.Event
	role     string
	identity string // state identity: account + role ARN
	days     *state.Future[state.Novelty]
	learned  []learnedName
	// learnedIn backs learned: a call learns two names at most, and the
	// slice and the call were two allocations of every AssumeRole.
	learnedIn [2]learnedName
}

// Findings implements detectors.Evaluation: the call judged against the
// role's history.
func (c *sessionCall) Findings() ([]detectors.Finding, error) { return c.againstHistory() }

func (c *sessionCall) finding(sev detectors.Severity, score int, n sessionName, shape string) detectors.Finding {
	r := c.ev.Record
	f := detectors.NewFinding(c.d.info, r, sev, score)
	f.Evidence["actor"] = detectors.Actor(r)
	f.Evidence["role_arn"] = c.role
	f.Evidence["field"] = n.field
	f.Evidence["name"] = n.value
	f.Evidence["shape"] = shape
	return f
}

func (c *sessionCall) prefix(n sessionName) string {
	r := c.ev.Record
	return fmt.Sprintf("%s called %s for %s from %s with %s %q", detectors.Actor(r), r.EventName, c.role, r.SourceIPAddress, n.field, n.value)
}

func (c *sessionCall) againstPatterns(names []sessionName) []detectors.Finding {
	var out []detectors.Finding
	var patterns []string
	for _, re := range c.d.settings.SessionNamePatterns {
		patterns = append(patterns, re.String())
	}
	for _, n := range names {
		if _, ok := c.d.settings.SessionNameConventional(n.value); ok {
			continue
		}
		shape := SessionNameShape(n.value)
		f := c.finding(detectors.SeverityMedium, 55, n, shape)
		f.Evidence["patterns"] = strings.Join(patterns, " ")
		f.Explanation = fmt.Sprintf("%s, which matches none of session_names.patterns [%s]", c.prefix(n), strings.Join(patterns, " "))
		if c.d.opts.ThrottleMinutes > 0 {
			period := time.Duration(c.d.opts.ThrottleMinutes) * time.Minute
			bucket := state.BucketStart(c.ev.Record.EventTime, period).Format(time.RFC3339)
			f.Once = detectors.OncePer(c.ev.Key(c.identity, "session-names:once:"+n.field+":"+shape+":"+bucket), period)
		}
		out = append(out, f)
	}
	return out
}

func (c *sessionCall) againstHistory() ([]detectors.Finding, error) {
	days, err := c.days.Get()
	if err != nil {
		return nil, err
	}
	earlierDays := days.Size
	if !days.New {
		earlierDays-- // today was counted already
	}
	var out []detectors.Finding
	for _, n := range c.learned {
		nov, err := n.novelty.Get()
		if err != nil {
			return nil, err
		}
		// Warm-up, a shape the role already uses, or the first name ever
		// seen in this field for the role: nothing to depart from.
		if earlierDays < c.d.opts.WarmupDays || !nov.New || nov.Size == 0 {
			continue
		}
		if f, ok := c.judgeNew(n, nov.Size, earlierDays); ok {
			out = append(out, f)
		}
	}
	return out, nil
}

func (c *sessionCall) judgeNew(n learnedName, known, days int) (detectors.Finding, bool) {
	o := c.d.opts
	history := fmt.Sprintf("the role was seen on %d earlier days in the last %d, with %d known shapes", days, o.HistoryDays, known)
	if rnd, ok := LooksRandom(n.value, o.RandomMinLength, o.RandomMinEntropy); ok {
		f := c.finding(detectors.SeverityMedium, 60, n.sessionName, n.shape)
		f.Evidence["random_token"] = rnd.Token
		f.Evidence["entropy_bits_per_char"] = fmt.Sprintf("%.2f", rnd.Entropy)
		f.Evidence["known_shapes"] = fmt.Sprint(known)
		f.Evidence["history_days"] = fmt.Sprint(days)
		f.Explanation = fmt.Sprintf("%s: it looks random (%q: %d characters, %.2f bits/char ≥ random_min_entropy %.2f, "+
			"character class changes at %.0f%% of positions) and its shape %q is new for the role (%s)",
			c.prefix(n.sessionName), rnd.Token, len(rnd.Token), rnd.Entropy, o.RandomMinEntropy, 100*rnd.Switches, n.shape, history)
		return f, true
	}
	if known >= o.MaxShapes {
		return detectors.Finding{}, false
	}
	f := c.finding(detectors.SeverityLow, 30, n.sessionName, n.shape)
	f.Evidence["known_shapes"] = fmt.Sprint(known)
	f.Evidence["history_days"] = fmt.Sprint(days)
	f.Explanation = fmt.Sprintf("%s of shape %q, never seen for this role (%s); no session_names.patterns are configured, "+
		"so the shape was judged against what the role learned", c.prefix(n.sessionName), n.shape, history)
	return f, true
}
