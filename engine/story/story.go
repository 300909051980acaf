// Package story turns findings into attack stories: the findings of one
// actor chain (an access key and its user, a session and the identity it
// came from, a creator and what it created) read as one attacker's
// progress, with the ATT&CK stages it covered and a severity of its own.
//
// A SOC triages attackers, not findings: a MEDIUM new location, a MEDIUM
// recon and a LOW self-created key of one key are one takeover. This
// package holds the model (what a finding contributes, how a story's
// severity rises with its stages, the analyst's summary) and the actor
// chain a CloudTrail record reveals; the engine keeps the graph in the
// state store so replicas and reruns agree.
package story

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
)

// Stage is an ATT&CK tactic a finding stands for in a story.
type Stage string

// The stages stories track, in kill-chain order.
const (
	StageInitialAccess       Stage = "initial-access"
	StageExecution           Stage = "execution"
	StageDiscovery           Stage = "discovery"
	StageCredentialAccess    Stage = "credential-access"
	StagePersistence         Stage = "persistence"
	StagePrivilegeEscalation Stage = "privilege-escalation"
	StageDefenseEvasion      Stage = "defense-evasion"
	StageImpact              Stage = "impact"
)

// techniqueStages maps ATT&CK technique ids (the part before a
// sub-technique's dot, or the full id where the sub-technique decides) to
// the tactic the detectors use them for in identity abuse.
var techniqueStages = map[string]Stage{
	"T1078": StageInitialAccess, "T1133": StageInitialAccess, "T1199": StageInitialAccess,
	"T1087": StageDiscovery, "T1580": StageDiscovery, "T1526": StageDiscovery, "T1619": StageDiscovery,
	"T1069": StageDiscovery, "T1082": StageDiscovery, "T1538": StageDiscovery, "T1518": StageDiscovery,
	"T1201": StageDiscovery, "T1595": StageDiscovery, "T1592": StageDiscovery, "T1589": StageDiscovery, // scanning and offensive tooling
	"T1059": StageExecution, // attack frameworks and pentest builds of the CLI (offensive-tooling)
	"T1552": StageCredentialAccess, "T1528": StageCredentialAccess, "T1555": StageCredentialAccess,
	"T1606": StageCredentialAccess, "T1110": StageCredentialAccess, "T1621": StageCredentialAccess,
	"T1098.001": StagePersistence, "T1136": StagePersistence, "T1556": StagePersistence,
	"T1550": StagePersistence, "T1098.004": StagePersistence, "T1098.005": StagePersistence,
	"T1098": StagePrivilegeEscalation, "T1484": StagePrivilegeEscalation, "T1548": StagePrivilegeEscalation,
	"T1098.003": StagePrivilegeEscalation,
	"T1562":     StageDefenseEvasion, "T1070": StageDefenseEvasion, "T1036": StageDefenseEvasion,
	"T1535": StageDefenseEvasion,
	"T1485": StageImpact, "T1486": StageImpact, "T1496": StageImpact, "T1531": StageImpact,
}

// StageOf returns the stage of a finding with these techniques: that of its
// first technique with a known tactic (detectors list their primary
// technique first), "" when none is known.
func StageOf(techniques []string) Stage {
	for _, t := range techniques {
		if s, ok := techniqueStages[t]; ok {
			return s
		}
		base, _, _ := strings.Cut(t, ".")
		if s, ok := techniqueStages[base]; ok {
			return s
		}
	}
	return ""
}

// Entry is what one finding contributes to a story, as the state store
// keeps it. Field names are short: entries are stored by the thousand.
type Entry struct {
	Incident  string             `json:"i"`
	Detector  string             `json:"d"`
	Severity  detectors.Severity `json:"v"`
	Stage     Stage              `json:"g,omitempty"`
	Time      time.Time          `json:"t"`
	Principal string             `json:"p,omitempty"`
	Key       string             `json:"k,omitempty"`
	SourceIP  string             `json:"ip,omitempty"`
	EventName string             `json:"e,omitempty"`
	// Story is the story the finding was given when it was raised; a later
	// story that holds it supersedes that one.
	Story string `json:"s,omitempty"`
}

// EntryOf returns what finding f contributes.
func EntryOf(f *detectors.Finding) Entry {
	return Entry{Incident: f.Incident, Detector: f.DetectorID, Severity: f.Severity, Stage: StageOf(f.Techniques),
		Time: f.EventTime.UTC(), Principal: f.PrincipalARN, Key: f.AccessKeyID, SourceIP: f.SourceIP, EventName: f.EventName}
}

// Encode renders e as a state member.
func (e Entry) Encode() string {
	b, err := json.Marshal(e)
	if err != nil {
		panic("story: encoding entry: " + err.Error()) // plain data: cannot fail
	}
	return string(b)
}

// DecodeEntry parses a member written by Encode.
func DecodeEntry(s string) (Entry, error) {
	var e Entry
	err := json.Unmarshal([]byte(s), &e)
	return e, err
}

// before orders entries by event time, then incident: the order a story's
// id and summary follow, whatever order the entries arrived in.
func before(a, b Entry) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	if c := strings.Compare(a.Incident, b.Incident); c != 0 {
		return c
	}
	// One incident stored twice (a redelivery named it again): the named
	// entry first, the smallest name among named ones.
	if (a.Story == "") != (b.Story == "") {
		if a.Story == "" {
			return 1
		}
		return -1
	}
	return strings.Compare(a.Story, b.Story)
}

// ID returns the id of the story whose earliest entry is first: derived
// from that finding's incident and time only, so every replica and every
// rerun that sees the same findings names the story alike.
func ID(first Entry) string {
	h := sha256.Sum256([]byte(first.Incident + "\x00" + first.Time.UTC().Format(time.RFC3339Nano)))
	return "story-" + hex.EncodeToString(h[:10])
}

// Story is one attacker's findings, linked by their actor chain.
type Story struct {
	ID             string             `json:"story"`
	Severity       detectors.Severity `json:"severity"`
	Stages         []Stage            `json:"stages"`
	Identities     []string           `json:"identities"`
	Incidents      []string           `json:"incidents"`
	FirstEventTime time.Time          `json:"first_event_time"`
	LastEventTime  time.Time          `json:"last_event_time"`
	Summary        string             `json:"summary"`
	// Supersedes lists stories emitted earlier whose findings this one
	// now holds (a late record linked them): consumers replace them.
	Supersedes []string `json:"supersedes,omitempty"`
}

// Build makes the story of entries (in any order, repeats of an incident
// allowed). It returns false when entries is empty.
//
// The story is named after its earliest entry: by the story that entry was
// given when it was raised, or, for an entry not given one yet (the
// finding being raised, or one that arrived late and is earlier than the
// rest), by ID. So a story keeps its name while its first findings slide
// out of the window a later finding reads, and a late earlier finding
// renames it once, superseding the old name.
func Build(entries []Entry) (Story, bool) {
	es := unique(entries)
	if len(es) == 0 {
		return Story{}, false
	}
	id := es[0].Story
	if id == "" {
		id = ID(es[0])
	}
	s := Story{ID: id, FirstEventTime: es[0].Time, LastEventTime: es[len(es)-1].Time}
	for _, e := range entries {
		if e.Story != "" && e.Story != s.ID && !slices.Contains(s.Supersedes, e.Story) {
			s.Supersedes = append(s.Supersedes, e.Story)
		}
	}
	for _, e := range es {
		s.Incidents = append(s.Incidents, e.Incident)
		for _, id := range []string{e.Principal, keyIdentity(e.Key)} {
			if id != "" && !slices.Contains(s.Identities, id) {
				s.Identities = append(s.Identities, id)
			}
		}
	}
	s.Stages = stages(es)
	s.Severity = severity(es, len(s.Stages))
	slices.Sort(s.Incidents)
	slices.Sort(s.Supersedes)
	s.Summary = summary(&s, es)
	return s, true
}

func keyIdentity(k string) string {
	if k == "" {
		return ""
	}
	return "access key " + k
}

// unique sorts entries by time and keeps one per incident (the earliest).
func unique(entries []Entry) []Entry {
	es := slices.Clone(entries)
	slices.SortStableFunc(es, before)
	seen := make(map[string]bool, len(es))
	out := es[:0]
	for _, e := range es {
		if !seen[e.Incident] {
			seen[e.Incident] = true
			out = append(out, e)
		}
	}
	return out
}

// counts reports whether e counts toward a story's stages: an informational
// finding is context, not a step of the attack.
func counts(e Entry) bool { return e.Stage != "" && e.Severity >= detectors.SeverityLow }

// stages lists the distinct stages of es in the order first reached.
func stages(es []Entry) []Stage {
	var out []Stage
	for _, e := range es {
		if counts(e) && !slices.Contains(out, e.Stage) {
			out = append(out, e.Stage)
		}
	}
	return out
}

// severity is the story's own severity: it measures the chain, not its
// worst finding, which keeps its own severity on the finding (where the
// SOC sees it). One stage is LOW whatever its findings: a scanner's
// enumeration, an admin's grant, a trip abroad are one step of one actor,
// and the finding already says how severe that step is. Two stages rise
// by what they are (see pair). Three distinct stages are HIGH (a new
// location, a recon and a new key of one actor are a takeover even when
// each alone is minor). Persistence or privilege escalation rated HIGH or
// worse (a key or password for another user, an admin grant, a backdoored
// trust policy) at or after a MEDIUM-or-worse way in (a new location,
// credentials used off their workload) makes it CRITICAL: the attacker
// got in and is staying or growing. A key a user makes for itself, LOW or
// MEDIUM, adds its stage but does not make a story critical: that is the
// textbook takeover, HIGH.
func severity(es []Entry, nstages int) detectors.Severity {
	sev := detectors.SeverityUnknown
	for _, e := range es {
		sev = max(sev, min(e.Severity, detectors.SeverityLow)) // INFO-only stays INFO
	}
	switch {
	case critical(es):
		return detectors.SeverityCritical
	case nstages >= 3:
		return detectors.SeverityHigh
	case nstages == 2:
		return max(sev, pair(es))
	}
	return sev
}

// pair is the severity of a story of two stages. A MEDIUM-or-worse way in
// (initial access, credential access) followed by a step of the other
// stage is an intrusion making progress: MEDIUM, HIGH when that step is
// HIGH or worse (tampering with logging, an enumeration burst from the new
// place). Otherwise two stages are MEDIUM when each holds a MEDIUM-or-worse
// finding (two significant steps of one actor) and LOW when one holds only
// LOW findings: a first whoami, a trip, a self-made key or a tool's user
// agent is context, and two pieces of context are an ordinary day (an
// admin who checks who she is, then assigns a permission set; a new user
// who checks who it is and makes itself a key).
func pair(es []Entry) detectors.Severity {
	sev := detectors.SeverityUnknown
	for _, e := range es {
		if counts(e) && e.Stage != StageInitialAccess && e.Stage != StageCredentialAccess && afterWayIn(e, es) {
			sev = max(sev, detectors.SeverityMedium, min(e.Severity, detectors.SeverityHigh))
		}
	}
	if sev != detectors.SeverityUnknown {
		return sev
	}
	worst := map[Stage]detectors.Severity{}
	for _, e := range es {
		if counts(e) {
			worst[e.Stage] = max(worst[e.Stage], e.Severity)
		}
	}
	for _, w := range worst {
		if w < detectors.SeverityMedium {
			return detectors.SeverityLow
		}
	}
	return detectors.SeverityMedium
}

// wayIn reports whether e is how an attacker gets in, rated MEDIUM or
// worse: a new location or unexpected source, or credentials used off
// their workload.
func wayIn(e Entry) bool {
	return e.Severity >= detectors.SeverityMedium && (e.Stage == StageInitialAccess || e.Stage == StageCredentialAccess)
}

// afterWayIn reports whether step e came through a way in of es: at or
// after it in event time, or from its source address. The address matters
// because a new location is raised on the first record from the new place
// to arrive, not the earliest: delivered late, the attacker's first calls
// from there precede the finding that says the place is new.
func afterWayIn(e Entry, es []Entry) bool {
	for _, in := range es {
		if wayIn(in) && (!e.Time.Before(in.Time) || e.SourceIP != "" && e.SourceIP == in.SourceIP) {
			return true
		}
	}
	return false
}

func critical(es []Entry) bool {
	for _, e := range es {
		if e.Severity >= detectors.SeverityHigh && (e.Stage == StagePersistence || e.Stage == StagePrivilegeEscalation) &&
			afterWayIn(e, es) {
			return true
		}
	}
	return false
}
