package engine

import (
	"context"
	"fmt"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// settle applies the throttles of candidate findings, remembers the verdicts
// of records that alerted, and fills in the verdicts.
func (s *scoring) settle(ctx context.Context) error {
	var second state.Batch
	throttles := make(map[int][]*state.Future[bool]) // item index → one per candidate (nil when none)
	for i := range s.items {
		it := &s.items[i]
		if len(it.candidates) == 0 {
			continue
		}
		fs := make([]*state.Future[bool], len(it.candidates))
		for j, f := range it.candidates {
			if f.Once != nil {
				// A throttle outlives the dedupe horizon, so a redelivery
				// evaluated again (see evaluate) can never raise an
				// incident a second time.
				fs[j] = second.Throttle(f.Once.Key, it.owner, max(f.Once.TTL, s.e.opts.DedupeHorizon))
			}
			for _, m := range f.Marks {
				second.Mark(m.Key, m.At, m.Keep, m.TTL)
			}
		}
		throttles[i] = fs
		// Remember the verdict as if every throttle is won; corrected below
		// in the rare case one is lost.
		second.Put(it.dedupe, encodeFindings(it.candidates), s.e.opts.DedupeHorizon)
	}
	s.alerting = len(throttles) > 0
	if second.Len() > 0 {
		if err := s.e.exec(ctx, s, &second); err != nil {
			return fmt.Errorf("recording %d alerts: %w", len(throttles), err)
		}
	}
	var third state.Batch
	for i, fs := range throttles {
		it := &s.items[i]
		kept, err := keep(it.candidates, fs)
		if err != nil {
			return fmt.Errorf("throttling findings of event %s: %w", it.event.Record.EventID, err)
		}
		if len(kept) != len(it.candidates) {
			third.Put(it.dedupe, encodeFindings(kept), s.e.opts.DedupeHorizon)
		}
		it.candidates = kept
	}
	if third.Len() > 0 {
		if err := s.e.exec(ctx, s, &third); err != nil {
			return fmt.Errorf("correcting remembered verdicts: %w", err)
		}
	}
	s.fill()
	return nil
}

// keep returns the candidates whose throttle, if any, was won.
func keep(candidates []detectors.Finding, throttles []*state.Future[bool]) ([]detectors.Finding, error) {
	kept := candidates[:0:0]
	for j, f := range candidates {
		if throttles[j] != nil {
			won, err := throttles[j].Get()
			if err != nil {
				return nil, err
			}
			if !won {
				continue
			}
		}
		f.Once, f.Marks = nil, nil
		kept = append(kept, f)
	}
	return kept, nil
}

// fill writes the outcome of every scored record, then copies verdicts to
// records repeated within the batch.
func (s *scoring) fill() {
	for i := range s.items {
		it := &s.items[i]
		v := &s.verdicts[it.index]
		if it.copyOf >= 0 || (v.Outcome == OutcomeDuplicate && !it.redelivered) {
			continue
		}
		v.Findings = it.candidates
		if it.redelivered {
			continue // stays DUPLICATE, with whatever evaluating it again found
		}
		v.Outcome = OutcomeClean
		for _, f := range v.Findings {
			if f.Suppressed == nil {
				v.Outcome = OutcomeAlert
				break
			}
			v.Outcome = OutcomeSuppressed
		}
	}
	for _, it := range s.items {
		if it.copyOf >= 0 {
			orig := s.verdicts[it.copyOf]
			s.verdicts[it.index] = Verdict{EventID: orig.EventID, Outcome: OutcomeDuplicate, Findings: orig.Findings}
		}
	}
}
