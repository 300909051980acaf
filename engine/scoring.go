package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine/story"
	"github.com/iamsentry/iamsentry/state"
)

// scoring is the work of scoring one batch.
//
// Round trips: the first batch holds every record's dedupe claim and every
// detector's operations, so the common, no-alert path costs exactly one.
// Only records that raised findings cost more: one for their throttles and
// marks, and one, after the findings were handed out, for the verdict they
// are remembered by.
type scoring struct {
	e        *Engine
	rules    *Rules
	tenant   string
	verdicts []Verdict
	items    []item
	first    *state.Batch // the scratch's, reset
	trips    int          // round trips taken
	learn    bool         // the batch only learns (Batch.Learn)
	alerting bool         // some record raised a candidate finding (before throttles)

	onPublish func([]Verdict) // the batch's Publish

	scratch *scratch // items, evaluations and the index by owner, reused (see release)
}

// scratch is what scoring a batch needs only while it scores: the items,
// the records the engine parses (about 900 bytes each), the evaluations,
// and the index of records by owner. It is reused across batches, cleared, because a batch
// of 512 records allocated some 600 KB of it, a sixth of the engine's
// bytes per event, for the garbage collector to sweep.
type scratch struct {
	items []item
	// recs are where the records the engine parses itself go, by their
	// position in the batch: none for a batch the caller parsed
	// (ScoreParsed), whose records the items point to, and which would
	// otherwise have cleared 900 bytes a record for nothing.
	recs []cloudtrail.Record
	// evals are the batch's evaluations while it is scored: empty when
	// the scratch is handed out, as long as the batch made them until it
	// is released.
	evals []detectors.Evaluation
	// seen indexes the batch's records by owner (see owners).
	seen owners
	// first is the batch's first state batch: reused, its index by key
	// keeps the size it grew to rather than growing again from nothing,
	// which took a twentieth of the engine's CPU in rehashing alone.
	first state.Batch
	// arena is where the batch's events carve their strings and
	// evaluations (detectors.Event.UseArena): its strings are fresh for
	// every batch, its evaluations' storage recycled (see release).
	arena detectors.Arena
	// observers remembers the registry's observers by call (see
	// observerCache), kept from batch to batch.
	observers observerCache
}

// scratchPool holds scratch of batches that finished; scratchMaxRecords
// bounds what it keeps, so one outsized batch does not pin its memory.
var scratchPool sync.Pool

const scratchMaxRecords = 4096

// getScratch returns cleared scratch for a batch of n records.
func getScratch(n int) *scratch {
	sc, _ := scratchPool.Get().(*scratch)
	if sc == nil {
		sc = &scratch{}
	}
	if cap(sc.items) < n {
		sc.items = make([]item, n)
	}
	if cap(sc.evals) < 2*n {
		sc.evals = make([]detectors.Evaluation, 0, 2*n)
	}
	sc.items = sc.items[:n]
	sc.seen.reset(n)
	return sc
}

// release hands s's scratch back once nothing of the batch reads it: the
// verdicts are the caller's and hold no pointer into the items (their
// strings are immutable copies or the records' own bytes, which clearing
// leaves to whoever still holds them), nor any future of the first state
// batch, whose storage the next batch reuses (state.Batch.Recycle).
func (s *scoring) release() {
	sc := s.scratch
	if sc == nil {
		return
	}
	used := len(s.items)
	s.scratch, s.items, s.first = nil, nil, nil
	if cap(sc.items) > scratchMaxRecords {
		return
	}
	// Scratch comes cleared (getScratch), and a batch writes only its
	// items (the first len(s.items)) and its evaluations (sc.evals'
	// length), so clearing those clears all: clearing to capacity made
	// every one-event batch after a burst pay for the burst's size (9 %
	// of the server's CPU in one profile at 5k events/s).
	clear(sc.items[:used])
	clear(sc.recs)
	sc.recs = sc.recs[:0]
	clear(sc.evals)
	sc.evals = sc.evals[:0]
	// Recycled, not only reset: nothing reads the batch's futures any
	// more (the evaluations and items holding them were just cleared),
	// so the next batch queues its operations in this one's storage.
	sc.first.Recycle()
	// Nor its evaluations: the next batch's are carved where they were.
	// The findings they built are the verdicts', and hold no pointer
	// into them.
	sc.arena.Recycle()
	scratchPool.Put(sc)
}

// item is one valid record of the batch.
type item struct {
	index      int // position in the batch
	event      detectors.Event
	dedupe     state.Key
	owner      string // the event's identity, owner of the throttles it wins
	copyOf     int    // index of an earlier record with the same identity in this batch, or -1
	claim      *state.Future[state.Claimed]
	evals      []detectors.Evaluation
	candidates []detectors.Finding
	// redelivered marks a duplicate evaluated again because nothing was
	// remembered for it (see evaluate).
	redelivered bool
	// chained are the finding sets of the identities the record chained
	// (see creations); stories are the stories it created or changed.
	chained      []*state.Future[state.Window]
	stories      []story.Story
	storyEntries []story.Entry // to store once handed out (see remember)
}

func newScoring(e *Engine, b Batch) *scoring {
	s := &scoring{e: e, rules: e.rules.Load(), tenant: b.Tenant, verdicts: make([]Verdict, len(b.Records)), onPublish: b.Publish, learn: b.Learn}
	s.scratch = getScratch(len(b.Records))
	s.first = &s.scratch.first
	seen := &s.scratch.seen
	reg := s.rules.Registry
	popts := cloudtrail.Options{MaxRecordSize: e.opts.MaxRecordSize}
	// Items, and the records the engine parses, are built in place, in
	// slices that never grow: detectors keep &it.event and its Record, and
	// a record or item of its own would cost an allocation per record. A
	// slot is written only by a record that parses (ParseInto leaves it as
	// it was on an error), so every slot is zero until its record takes it
	// (scratch comes cleared).
	items := s.scratch.items
	// Evaluations too share one slice; a detector or two per record is
	// typical, and growing it copies only interface values.
	evals := s.scratch.evals
	// The claim names and owners are carved from chunks of strings of
	// their own, fresh for the batch: never a chunk of an earlier batch,
	// which stores and findings may still hold strings of. So are the
	// strings detectors build per event, and their evaluations, whose
	// storage is the scratch's (detectors.Event.UseArena, Arena.Recycle).
	owners := &s.scratch.arena
	n := 0
	for i := range b.Records {
		it := &items[n]
		rec, err := s.parseRecord(&b, i, popts)
		if err != nil {
			s.verdicts[i] = invalid(err)
			continue
		}
		n++
		s.verdicts[i].EventID = rec.EventID
		it.index, it.copyOf = i, -1
		it.event.Record, it.event.Tenant = rec, b.Tenant // the rest is zero, as the slot is
		it.event.UseArena(owners)
		// The claim's name and the owner are built as one string.
		claim := it.event.PrefixedOwner(dedupePrefix(e.claimBeside), owners)
		it.owner = it.event.Owner()
		if first := seen.first(it.owner, n-1, i, items); first != i {
			it.copyOf = first
			continue
		}
		it.dedupe = dedupeKey(&it.event, e.claimBeside, claim)
		// Its key is the event's own (see dedupeKey), and seen found
		// no earlier record of its owner in the batch: no other
		// operation of the batch names it.
		it.claim = s.first.ClaimUnique(it.dedupe, nil, e.opts.DedupeHorizon)
		s.creations(it, owners)
		from := len(evals)
		// Only the detectors that may act on the event's call: the
		// others would return nil and queue nothing (detectors.Selective).
		evals = s.observeAll(s.scratch.observers.of(reg, rec.EventSource, rec.EventName), &it.event, evals)
		// Capped, so that nothing appended to one item's evals can
		// overwrite the next item's.
		it.evals = evals[from:len(evals):len(evals)]
	}
	s.items = items[:n]
	s.scratch.evals = evals // keep what it grew to; release clears and empties it
	return s
}

// dedupeKey is where an event's claim and remembered verdict live. On a
// store that keeps an identity's state together (beside: the Redis record
// layout, see state.IdentityGrouper) it is beside the state of the access
// key that made the event, which detectors key state on anyway, so the
// claim rides in the write the batch makes for the key rather than costing
// a key of its own; an event without an access key (a service's, a
// federated sign-in) is claimed beside the other such events of its
// account and hour of event time (spread over claimSpread records), a
// few writes per batch for all of them.
// Elsewhere (the embedded store, where claims grouped would only grow a
// group) an event has a key of its own. name is dedupePrefix(beside) +
// ev.Owner(), built by the caller. Either way the key follows from
// the record and the store alone, so a redelivery through any replica of
// a deployment finds the claim.
func dedupeKey(ev *detectors.Event, beside bool, name string) state.Key {
	if !beside {
		return ev.Key(name, "verdict")
	}
	if akid := ev.Record.UserIdentity.AccessKeyID; akid != "" {
		return ev.Key(ev.KeyIdentity(akid), name)
	}
	h := fnv.New32a()
	h.Write([]byte(ev.Owner()))
	part := strconv.FormatInt(ev.Record.EventTime.Unix()/3600*claimSpread+int64(h.Sum32()%claimSpread), 10)
	return ev.Key("claims:"+ev.Record.AccountID()+":"+part, name)
}

// dedupePrefix is what the name of an event's claim (see dedupeKey) puts
// before its owner: the identity of its own key ("event:" + owner) on a
// store that does not group identities, the key's name ("verdict:" +
// owner) beside other state on one that does.
func dedupePrefix(beside bool) string {
	if beside {
		return "verdict:"
	}
	return "event:"
}

// claimSpread is how many records an account's claims of one hour spread
// over, so that replicas claiming at once seldom write the same record
// (each write of a record another replica changed first is retried).
const claimSpread = 8

func invalid(err error) Verdict {
	v := Verdict{Outcome: OutcomeInvalid, Reason: err.Error()}
	if re, ok := errors.AsType[*cloudtrail.RecordError](err); ok {
		v.Invalid = re
	}
	return v
}

// evaluate reads the claims and lets detectors turn their results into
// candidate findings.
func (s *scoring) evaluate() error {
	for i := range s.items {
		it := &s.items[i]
		if it.copyOf >= 0 {
			continue
		}
		claimed, err := it.claim.Get()
		if err != nil {
			return fmt.Errorf("deduplicating event %s: %w", it.event.Record.EventID, err)
		}
		v := &s.verdicts[it.index]
		if !claimed.First {
			v.Outcome = OutcomeDuplicate
			if len(claimed.Prior) > 0 {
				if v.Findings, err = decodeFindings(claimed.Prior); err != nil {
					s.e.opts.Logger.Warn("remembered verdict unreadable; answering without its findings",
						slog.String("event_id", it.event.Record.EventID), slog.Any("error", err))
				}
				continue
			}
			// The event was claimed but no findings were remembered: it
			// was clean, or an earlier scoring lost a reply before it
			// handed the findings out (findings are remembered only once
			// they were, see settle), so they never left. Evaluate it
			// again: its operations ran again in this batch and are
			// retry-safe (sets keyed by member, marks, owner-keyed
			// throttles and novelty), so a clean event stays clean and a
			// lost alert is recovered, as a DUPLICATE, and handed out.
			it.redelivered = true
		}
		for _, ev := range it.evals {
			// Most evaluations raise nothing and fail not: they cost the
			// call, no error inspected, nothing appended.
			fs, err := findings(ev)
			if err != nil {
				if errors.Is(err, state.ErrUnavailable) {
					return fmt.Errorf("evaluating event %s: %w", it.event.Record.EventID, err)
				}
				s.e.opts.Logger.Error("detector failed on event; other detectors still scored it",
					slog.String("event_id", it.event.Record.EventID), slog.Any("error", err))
				continue
			}
			if len(fs) == 0 {
				continue
			}
			for j := range fs {
				if fs[j].Incident == "" { // a detector may name it (detectors.Finding.Incident)
					fs[j].Incident = incident(&fs[j])
				}
			}
			it.candidates = append(it.candidates, fs...)
		}
		s.shareMarks(it.candidates)
	}
	return nil
}

func decodeFindings(b []byte) ([]detectors.Finding, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var fs []detectors.Finding
	err := json.Unmarshal(b, &fs)
	return fs, err
}

func encodeFindings(fs []detectors.Finding) []byte {
	if len(fs) == 0 {
		return nil
	}
	b, err := json.Marshal(fs)
	if err != nil {
		panic(fmt.Sprintf("engine: encoding findings: %v", err)) // plain data: cannot fail
	}
	return b
}

// observeAll calls the Observe of each detector of enabled (the enabled
// detectors that may act on ev, see detectors.Registry.Observers) on ev,
// in order, and appends the evaluations they return to evals. A panic becomes a logged
// failure of that detector: one detector's bug on one hostile record must
// not take the process down, nor keep the detectors after it from the
// event. One deferred recovery covers the whole run (observeFrom), and a
// panic restarts it after the detector that panicked: a recovery frame per
// detector call cost as much as a cheap detector's filter.
func (s *scoring) observeAll(enabled []detectors.Detector, ev *detectors.Event, evals []detectors.Evaluation) []detectors.Evaluation {
	for next := 0; next < len(enabled); {
		evals, next = s.observeFrom(enabled, next, ev, evals)
	}
	return evals
}

// observeFrom runs enabled[i:] on ev; next is where the run stopped: the
// end, or the detector after one that panicked.
func (s *scoring) observeFrom(enabled []detectors.Detector, i int, ev *detectors.Event, evals []detectors.Evaluation) (out []detectors.Evaluation, next int) {
	out = evals
	defer func() {
		if p := recover(); p != nil {
			s.e.opts.Logger.Error("detector panicked in Observe; event scored without it",
				slog.String("detector", enabled[next].Info().ID), slog.String("event_id", ev.Record.EventID),
				slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
			next++
		}
	}()
	for next = i; next < len(enabled); next++ {
		if eval := enabled[next].Observe(ev, s.first); eval != nil {
			out = append(out, eval)
		}
	}
	return out, next
}

// findings calls ev.Findings, turning a panic into an error.
func findings(ev detectors.Evaluation) (fs []detectors.Finding, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("detector panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return ev.Findings()
}

// incident names the incident a finding belongs to (see Finding.Incident).
// The tenant is left out: it is implied by who asks.
func incident(f *detectors.Finding) string {
	if f.Once != nil {
		return f.DetectorID + "/" + f.Once.Key.Identity + "/" + f.Once.Key.Name
	}
	// The event by account, id, name and time, as it is deduplicated: rule
	// test fixtures reuse ids such as "1" for different records.
	return f.DetectorID + "/event/" + f.AccountID + "/" + f.EventID + "/" + f.EventName + "/" +
		f.EventTime.UTC().Format(time.RFC3339Nano)
}
