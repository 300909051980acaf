// Package engine scores micro-batches of CloudTrail records: it parses each
// record once, deduplicates event ids, lets every enabled detector queue its
// state operations, executes them in one round trip, and turns the results
// into exactly one verdict per record, in order.
//
// The engine is what both the gRPC server and the in-process scan run, so a
// backtest gives the verdicts the service would have given.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine/story"
	"github.com/iamsentry/iamsentry/state"
)

// Outcome is what a verdict says about one record.
type Outcome int

// Outcomes. The zero value is not used in a verdict.
const (
	OutcomeUnknown    Outcome = iota
	OutcomeClean              // scored, nothing raised
	OutcomeAlert              // scored, at least one finding
	OutcomeDuplicate          // scored before; the original findings are returned
	OutcomeInvalid            // not scored; Reason says why
	OutcomeSuppressed         // scored; every finding matched a suppress entry
)

var outcomeNames = [...]string{"UNKNOWN", "CLEAN", "ALERT", "DUPLICATE", "INVALID", "SUPPRESSED"}

// String returns the upper-case name, e.g. "ALERT".
func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return fmt.Sprintf("Outcome(%d)", int(o))
	}
	return outcomeNames[o]
}

// MarshalText renders the outcome by name, for JSON output.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Verdict is the answer for one record.
type Verdict struct {
	EventID  string
	Outcome  Outcome
	Findings []detectors.Finding
	Reason   string // for OutcomeInvalid: why the record was rejected

	// Stories are the attack stories this record created or changed (a new
	// story, a higher severity, a new stage, or stories it joined): each
	// story is emitted once per change, by whichever record made it.
	Stories []story.Story `json:"stories,omitempty"`

	// Invalid is the parser's error for OutcomeInvalid, for callers that
	// count rejections by reason.
	Invalid *cloudtrail.RecordError `json:"-"`
}

// Score returns the strongest score of the findings that are not
// suppressed, 0 without any.
func (v *Verdict) Score() int {
	best := 0
	for _, f := range v.Findings {
		if f.Suppressed == nil {
			best = max(best, f.Score)
		}
	}
	return best
}

// Severity returns the strongest severity of the findings that are not
// suppressed, SeverityUnknown without any.
func (v *Verdict) Severity() detectors.Severity {
	best := detectors.SeverityUnknown
	for _, f := range v.Findings {
		if f.Suppressed == nil {
			best = max(best, f.Severity)
		}
	}
	return best
}

// Options tune an Engine. The zero value gives the defaults.
type Options struct {
	// DedupeHorizon is how long an event id is remembered, with its
	// verdict, for retries. Default 1 h.
	DedupeHorizon time.Duration
	// MaxRecordSize limits one record's JSON. Default 256 KiB.
	MaxRecordSize int
	// Logger receives detector errors. Default: discard.
	Logger *slog.Logger
	// Suppress is the allow-list findings are checked against (see
	// detectors.Suppression).
	Suppress []detectors.Suppression
	// MeterProvider receives the engine's metrics. Default: the global
	// OpenTelemetry provider.
	MeterProvider metric.MeterProvider
	// TracerProvider receives a span per Score call. Default: the global
	// OpenTelemetry provider.
	TracerProvider trace.TracerProvider
}

// Rules are what an engine runs: the detectors and the suppressions. Reload
// swaps them as one, so a batch is scored wholly under the old rules or
// wholly under the new.
type Rules struct {
	Registry *detectors.Registry
	Suppress []detectors.Suppression
}

// DefaultDedupeHorizon is the default DedupeHorizon.
const DefaultDedupeHorizon = time.Hour

// Engine scores batches against one store. It is safe for concurrent use.
type Engine struct {
	rules atomic.Pointer[Rules]
	store state.Store
	opts  Options
	// claimBeside places dedupe claims beside the event's access key
	// state: the store groups identities (see dedupeKey).
	claimBeside bool
	metrics     *metrics

	batches, records, roundTrips  atomic.Int64
	quietBatches, quietRoundTrips atomic.Int64
}

// Stats are running totals since the engine started.
type Stats struct {
	Batches    int64 // batches scored (successfully or not)
	Records    int64 // records in those batches
	RoundTrips int64 // state batches executed (round trips to a shared store)
	// QuietBatches are the scored batches in which no detector proposed a
	// finding, and QuietRoundTrips the round trips they took: the no-alert
	// path, which must cost exactly one round trip per batch.
	QuietBatches, QuietRoundTrips int64
}

// Stats returns the running totals.
func (e *Engine) Stats() Stats {
	return Stats{Batches: e.batches.Load(), Records: e.records.Load(), RoundTrips: e.roundTrips.Load(),
		QuietBatches: e.quietBatches.Load(), QuietRoundTrips: e.quietRoundTrips.Load()}
}

// exec executes one state batch of s, counting the round trip.
func (e *Engine) exec(ctx context.Context, s *scoring, b *state.Batch) error {
	e.roundTrips.Add(1)
	s.trips++
	return e.store.Exec(ctx, b)
}

// New returns an engine running the enabled detectors of registry on store.
func New(registry *detectors.Registry, store state.Store, opts Options) *Engine {
	if opts.DedupeHorizon <= 0 {
		opts.DedupeHorizon = DefaultDedupeHorizon
	}
	if opts.MaxRecordSize <= 0 {
		opts.MaxRecordSize = cloudtrail.DefaultMaxRecordSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MeterProvider == nil {
		opts.MeterProvider = otel.GetMeterProvider()
	}
	if opts.TracerProvider == nil {
		opts.TracerProvider = otel.GetTracerProvider()
	}
	e := &Engine{store: store, opts: opts, metrics: newMetrics(opts.MeterProvider, opts.TracerProvider),
		claimBeside: state.GroupsIdentities(store)}
	e.rules.Store(&Rules{Registry: registry, Suppress: opts.Suppress})
	return e
}

// Registry returns the registry the engine runs now.
func (e *Engine) Registry() *detectors.Registry { return e.rules.Load().Registry }

// Rules returns the rules the engine runs now.
func (e *Engine) Rules() Rules { return *e.rules.Load() }

// Reload replaces the rules for every batch that starts scoring after it
// returns; batches already scoring finish under the rules they started with.
func (e *Engine) Reload(r Rules) { e.rules.Store(&r) }

// Ping reports whether the engine's store can serve.
func (e *Engine) Ping(ctx context.Context) error { return e.store.Ping(ctx) }

// Batch is one micro-batch to score.
type Batch struct {
	Tenant  string   // whose state the records read and change
	Records [][]byte // one CloudTrail record's JSON each

	// Learn scores the records for their effect on state only: windows and
	// baselines learn, event ids are remembered, and no finding is raised
	// or remembered (every scored record is CLEAN). It seeds state from
	// history before going live.
	Learn bool

	// Publish, when set, receives the verdicts whose findings no earlier
	// scoring handed out: ALERT and SUPPRESSED verdicts, and DUPLICATE ones
	// of events whose earlier scoring lost a store reply before it could
	// hand them out; and CLEAN verdicts that carry stories (a record that
	// chained two identities with findings). It is called once the findings are final, before the
	// engine remembers them for redeliveries, so whichever reply is lost a
	// finding reaches Publish once: a retry hands out what was not
	// remembered, and only what was handed out is remembered. (Should the
	// remembering itself fail, a later redelivery hands them out again.)
	// It must not block: it holds up the batch.
	Publish func(fresh []Verdict)

	// Links are the spans of the calls whose records the batch holds; the
	// span of Score links to them (a micro-batch serves many calls, so it
	// has no single parent).
	Links []trace.Link

	// parsed are records already parsed, by index (see ScoreParsed).
	parsed []*cloudtrail.Record
}

// Score scores b and returns one verdict per record, in order.
//
// When the store fails, Score returns an error wrapping
// state.ErrUnavailable and no verdicts: nothing is acknowledged that was
// not scored. Scoring the same batch again is then safe, because every state
// operation is retry-safe and event ids are deduplicated.
func (e *Engine) Score(ctx context.Context, b Batch) (verdicts []Verdict, err error) {
	start := time.Now()
	ctx, span := e.startSpan(ctx, &b)
	defer func() { e.endSpan(ctx, span, start, len(b.Records), verdicts, err) }()
	return e.score(ctx, b)
}

func (e *Engine) score(ctx context.Context, b Batch) ([]Verdict, error) {
	e.batches.Add(1)
	e.records.Add(int64(len(b.Records)))
	s := newScoring(e, b)
	defer s.release()
	if err := e.exec(ctx, s, s.first); err != nil {
		return nil, fmt.Errorf("scoring %d records: %w", len(b.Records), err)
	}
	if err := s.evaluate(); err != nil {
		return nil, err
	}
	if b.Learn {
		s.forget()
	} else {
		s.suppress()
	}
	if err := s.settle(ctx); err != nil {
		return nil, err
	}
	s.count(ctx)
	if !s.alerting {
		e.quietBatches.Add(1)
		e.quietRoundTrips.Add(int64(s.trips))
	}
	return s.verdicts, nil
}

// IsUnavailable reports whether err means the state backend is unreachable.
func IsUnavailable(err error) bool { return errors.Is(err, state.ErrUnavailable) }
