// Package detectors is the detector contract: the Detector interface, the
// Event it observes and the Finding it raises, the Registry a process runs,
// the organisation-wide Settings, suppression, and what detectors share by
// design (marks one leaves for another, state identities, explanation
// helpers). The detectors iamsentry ships live in detectors/builtin.
//
// A detector sees the compact CloudTrail record (package cloudtrail), never a
// protobuf or gRPC type, and keeps no per-identity memory of its own: every
// thing it remembers lives in package state, so any replica can score any
// event and replicas agree.
package detectors

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/state"
)

// Detector finds one kind of identity abuse.
//
// The engine scores events in micro-batches in two phases. First it calls
// Observe for every event of the batch, in batch order; a detector that cares
// about the event queues the state operations it needs on the batch and
// returns an Evaluation. Then the engine executes the batch (one round trip to
// a shared store) and calls each Evaluation to collect findings.
//
// Implementations must be safe for concurrent use: several batches are scored
// at once on different goroutines. They must not keep per-identity state in
// memory; configuration is fixed at construction.
type Detector interface {
	// Info describes the detector. It returns the same value on every call.
	Info() Info

	// Observe looks at one event. It must filter cheaply (event source and
	// name first) and return nil when the event is of no interest. It must
	// not block and must not read futures: they resolve only after the batch
	// executes. Operations queued on b run in queue order, after those of
	// earlier events in the batch.
	Observe(ev *Event, b *state.Batch) Evaluation
}

// Evaluation turns the results of the operations a detector queued into
// findings. It is called once, after the batch executed.
type Evaluation interface {
	// Findings returns what the event raised, or an error when a state
	// result it needs is missing (the error of the future, unwrapped or
	// wrapped with %w so state.ErrUnavailable stays visible).
	Findings() ([]Finding, error)
}

// EvaluationFunc adapts a function to Evaluation.
type EvaluationFunc func() ([]Finding, error)

// Findings calls f.
func (f EvaluationFunc) Findings() ([]Finding, error) { return f() }

// Event is what a detector observes: one parsed record and the tenant whose
// state it may read and change.
type Event struct {
	Record *cloudtrail.Record
	Tenant string

	owner  string // EventIdentity(Record), computed once by Owner
	source source // where it came from, computed once by Settings.SourceNetwork
	key    string // KeyIdentity of the record's own access key, once asked
	arena  *Arena // the batch's, when the engine gave one (see UseArena)

	// principal is PrincipalIdentity's answer for principalOf, the
	// principal last asked.
	principal, principalOf string

	human uint8 // HumanSession(Record) once asked: humanNo or humanYes; 0 not yet

	trustedBy *Settings // whose Trusted(Record) trusted is; nil: not yet asked
	trusted   bool

	role *decodedRole // RoleRequest's, once asked
}

// Owner names the event for retry-safe state operations (throttles,
// NoveltyAddBy): a redelivery of the same event has the same owner. It is
// the event's identity as the engine deduplicates it.
// The engine and the detectors that need it share one computation per event.
func (ev *Event) Owner() string {
	if ev.owner == "" {
		ev.owner = EventIdentity(ev.Record)
	}
	return ev.owner
}

// EventIdentity is what makes two deliveries the same event: the account,
// the event id, and (as a guard against reused or synthetic ids, as in rule
// test fixtures) the event name and time, which a retry carries unchanged.
func EventIdentity(r *cloudtrail.Record) string {
	var buf [128]byte // kept off the heap: the string is the one allocation
	return string(appendEventIdentity(buf[:0], r))
}

func appendEventIdentity(b []byte, r *cloudtrail.Record) []byte {
	b = append(append(b, r.AccountID()...), ':')
	b = append(append(b, r.EventID...), ':')
	b = append(append(b, r.EventName...), ':')
	return appendUnixNano(b, r.EventTime)
}

// appendUnixNano appends the decimal of t.UnixNano() to b. CloudTrail's
// times are whole seconds, whose nanoseconds are the decimal of the second
// and nine zeros; a second of these centuries has ten digits, written
// here into a fixed array. strconv.AppendInt took 400 instructions (31–40
// ns) for UnixNano's nineteen digits, for every event the engine names;
// this takes 15–22 ns. TestAppendUnixNanoIsAppendInt holds the two equal.
func appendUnixNano(b []byte, t time.Time) []byte {
	sec := t.Unix()
	if t.Nanosecond() != 0 || sec < 1e9 || sec > maxUnixNanoSecond {
		return strconv.AppendInt(b, t.UnixNano(), 10)
	}
	// Two halves of five digits in 32 bits, each a digit and two pairs of
	// digits from a table: a chain of ten divisions was slower than
	// AppendInt's, and a digit at a time was 170 instructions.
	d := [19]byte{10: '0', '0', '0', '0', '0', '0', '0', '0', '0'}
	putFiveDigits((*[5]byte)(d[0:5]), uint32(sec/1e5))
	putFiveDigits((*[5]byte)(d[5:10]), uint32(sec%1e5))
	return append(b, d[:]...)
}

// putFiveDigits writes x, below 1e5, as five decimal digits.
func putFiveDigits(d *[5]byte, x uint32) {
	d[0] = byte('0' + x/1e4)
	r := x % 1e4
	p, q := r/100*2, r%100*2
	d[1], d[2], d[3], d[4] = digitPairs[p], digitPairs[p+1], digitPairs[q], digitPairs[q+1]
}

// digitPairs holds the two digits of 0 to 99 at twice the number.
const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// maxUnixNanoSecond is the last Unix second whose nanoseconds an int64
// holds (in 2262): ten digits, as every second from 1e9 (in 2001) on.
const maxUnixNanoSecond = math.MaxInt64 / int64(time.Second)

// PrefixedOwner returns prefix + ev.Owner(), keeping Owner as its tail
// when Owner was not built yet: the engine names every event's dedupe
// claim so, and the owner then costs nothing more. The string is carved
// from arena (see Arena) when it is not nil, else allocated.
func (ev *Event) PrefixedOwner(prefix string, arena *Arena) string {
	if ev.owner != "" {
		return prefix + ev.owner
	}
	var buf [160]byte
	b := appendEventIdentity(append(buf[:0], prefix...), ev.Record)
	var s string
	if arena != nil {
		s = arena.String(b)
	} else {
		s = string(b)
	}
	ev.owner = s[len(prefix):]
	return s
}

// Arena hands out strings carved from shared chunks of bytes: one
// allocation per chunk rather than one per string, for the strings of one
// batch's events. A chunk's bytes are never written again once a string
// of them is handed out, so its strings are as immutable as any; a chunk
// lives as long as any of its strings, as a batch's records' bytes do
// (stores clone what they keep). The zero Arena is ready to use; an Arena
// is not safe for concurrent use.
type Arena struct {
	chunk []byte
	slabs []recycler // by Slab id: its *slabChunk (see Slab)
}

// arenaChunk is the size of an Arena's chunks; a string of more than a
// quarter of it is allocated on its own.
const arenaChunk = 4096

// firstArenaChunk is the size of an Arena's first chunk.
const firstArenaChunk = 512

// String returns string(b), carved from the arena.
func (a *Arena) String(b []byte) string {
	if len(b) == 0 || len(b) > arenaChunk/4 {
		return string(b)
	}
	if cap(a.chunk)-len(a.chunk) < len(b) {
		// The first chunk is small and each next one twice its size up to
		// arenaChunk: a batch of one event (a shipper at a low rate) uses
		// a few hundred bytes, and a chunk is zeroed when it is made.
		size := max(firstArenaChunk, min(2*cap(a.chunk), arenaChunk), len(b))
		a.chunk = make([]byte, 0, size)
	}
	start := len(a.chunk)
	a.chunk = append(a.chunk, b...)
	return unsafe.String(&a.chunk[start], len(b))
}

// KeyIdentity is the state identity of an access key, "key:" followed by
// its id, under which detectors and the marks they share keep what they
// know of the key. For the event's own key it is built once per event:
// several detectors key state on it.
func (ev *Event) KeyIdentity(accessKeyID string) string {
	if ev.Record == nil || accessKeyID != ev.Record.UserIdentity.AccessKeyID {
		return "key:" + accessKeyID // an event made only to build keys has no record
	}
	if ev.key == "" {
		var buf [64]byte
		ev.key = ev.String(append(append(buf[:0], "key:"...), accessKeyID...))
	}
	return ev.key
}

// PrincipalIdentity returns identity(p), the state identity of the stable
// principal p ("principal:" followed by p, from the caller's cache),
// remembered for the event for the principal last asked: several
// detectors key the event's principal (enumeration, recon, mfa-device-
// removed), and each looked it up in a shared cache, hashing an ARN, where
// comparing p with the one asked before costs a length and a pointer.
// identity must be the same pure function at every call.
func (ev *Event) PrincipalIdentity(p string, identity func(string) string) string {
	if ev.principal == "" || ev.principalOf != p {
		ev.principal, ev.principalOf = identity(p), p
	}
	return ev.principal
}

// Key builds a state key in the event's tenant.
func (ev *Event) Key(identity, name string) state.Key {
	return state.Key{Tenant: ev.Tenant, Identity: identity, Name: name}
}

// Info describes a detector for ListDetectors, docs/detectors.md and findings.
type Info struct {
	ID          string   // stable kebab-case id, e.g. "admin-policy-attached"
	Title       string   // one line
	Description string   // what it looks for and why it matters
	Severity    Severity // default severity
	Techniques  []string // MITRE ATT&CK technique ids, e.g. "T1098.003"
}

// Finding is one thing a detector raised on one event.
type Finding struct {
	DetectorID  string   `json:"detector_id"`
	Severity    Severity `json:"severity"`
	Score       int      `json:"score"` // 0–100
	Title       string   `json:"title"`
	Explanation string   `json:"explanation"` // names the evidence: who, what, from where, why unusual
	Techniques  []string `json:"techniques"`

	AccountID    string    `json:"account_id,omitempty"`
	PrincipalARN string    `json:"principal_arn,omitempty"`
	AccessKeyID  string    `json:"access_key_id,omitempty"`
	SourceIP     string    `json:"source_ip,omitempty"` // sourceIPAddress as given
	EventName    string    `json:"event_name"`
	EventTime    time.Time `json:"event_time"`
	EventID      string    `json:"event_id"`

	Evidence map[string]string `json:"evidence,omitempty"`

	// Incident names what the finding is about, so findings of one incident
	// group together whichever record raised them: the detector and its
	// Once key (identity and window) for throttled findings, the detector
	// and the event id otherwise. The engine fills it, unless the detector
	// named it: findings of one incident that different records raise at
	// different severities, depending on which arrives first, name it
	// themselves so both arrival orders give the same incidents.
	Incident string `json:"incident,omitempty"`

	// Story names the attack story the finding belongs to: the findings
	// of one actor chain (key and user, session and its source, creator
	// and created), see package engine/story. The engine fills it, from
	// the earliest finding of the chain, so replicas and reruns agree; a
	// finding raised before an earlier one of its chain arrived names the
	// story that a later story lists in its supersedes. Suppressed findings
	// belong to no story.
	Story string `json:"story,omitempty"`

	// Suppressed is set by the engine when a suppress entry of the
	// configuration matched the finding: it is reported and counted, not
	// alerted on.
	Suppressed *Suppressed `json:"suppressed,omitempty"`

	// Once, when set, makes the finding one per key per period: the engine
	// keeps it only when this event wins the throttle on Once.Key (a retry
	// of the same event keeps what it won). Detectors set it for incidents
	// that many events of one burst would otherwise each raise.
	Once *Once `json:"-"`

	// Marks are marks the engine sets because the finding was raised, in
	// the round trip that records the alert. They carry the conclusions one
	// detector leaves for another (marks.go) that the detector can only
	// draw after reading its state, so it cannot queue them in Observe.
	// They are set even when the finding loses its Once throttle: the fact
	// they record holds either way.
	Marks []SetMark `json:"-"`
}

// SetMark is a mark a finding asks the engine to set (see state.MarkOp).
type SetMark struct {
	Key  state.Key
	At   time.Time
	Keep state.Keep
	TTL  time.Duration
}

// AllowedLateness is how late, in wall-clock time, CloudTrail may deliver a
// record after another of the same burst (about 15 minutes). Window state
// and throttles live at least this long past their window, so a late record
// still meets what it belongs with, and the engine counts a record this far
// behind its newest event time as late.
const AllowedLateness = 15 * time.Minute

// onceLateness is added to the wall-clock TTL of a throttle keyed by an
// event-time period, so records of the period that arrive late still find
// it. It is generous next to AllowedLateness: a throttle that expires early
// raises a duplicate incident.
const onceLateness = time.Hour

// Once names the throttle a finding must win. Detectors put the event-time
// period in Key.Name when an incident is "one per identity per period", so
// that replaying history gives the findings live traffic would have given;
// TTL (wall clock) then only has to outlive the period plus lateness.
type Once struct {
	Key state.Key
	TTL time.Duration
	// Covers are the throttles of the same incident at lower severities:
	// raising the finding claims them too (owned by its event, for TTL),
	// so a lower-severity finding of the incident scored later is not
	// raised again. An incident whose severity depends on which of its
	// records sees the other keys Once by severity and names Incident
	// itself: a later record can then raise it higher, never lower, and
	// the highest severity reached does not depend on arrival order.
	Covers []state.Key
}

// OncePer returns the throttle of an incident that is one per key per
// event-time period: key must name the period; the throttle outlives it by
// the allowed lateness of delivery.
func OncePer(key state.Key, period time.Duration) *Once {
	return &Once{Key: key, TTL: period + onceLateness}
}

// NewFinding starts a finding of detector info on record r, with the event's
// identity fields filled in.
func NewFinding(info Info, r *cloudtrail.Record, sev Severity, score int) Finding {
	return Finding{
		DetectorID:   info.ID,
		Severity:     sev,
		Score:        score,
		Title:        info.Title,
		Techniques:   append([]string(nil), info.Techniques...),
		AccountID:    r.AccountID(),
		PrincipalARN: r.UserIdentity.ARN,
		AccessKeyID:  r.UserIdentity.AccessKeyID,
		SourceIP:     r.SourceIPAddress,
		EventName:    r.EventName,
		EventTime:    r.EventTime,
		EventID:      r.EventID,
		Evidence:     map[string]string{},
	}
}

// Severity orders findings from informational to critical.
type Severity int

// Severities, lowest first. The zero value is not a valid severity.
const (
	SeverityUnknown Severity = iota
	SeverityInfo
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"UNKNOWN", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// String returns the upper-case name, e.g. "HIGH".
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("Severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity parses an upper- or lower-case severity name.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames[1:] {
		if strings.EqualFold(n, name) {
			return Severity(i + 1), nil
		}
	}
	return SeverityUnknown, fmt.Errorf("unknown severity %q (want INFO, LOW, MEDIUM, HIGH or CRITICAL)", name)
}

// MarshalText renders the severity by name, for JSON output.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
