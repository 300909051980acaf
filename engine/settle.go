package engine

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// settle applies the throttles of candidate findings, fills in the
// verdicts, hands out the findings no earlier scoring handed out, and only
// then remembers them.
//
// Remembering last is what makes publishing once survive a lost reply: an
// event is remembered with findings only after they were handed out, so a
// retry that finds none remembered evaluates the event again (see evaluate)
// and hands them out then, and a retry that finds them remembered knows
// they went out.
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
				ttl := max(f.Once.TTL, s.e.opts.DedupeHorizon)
				fs[j] = second.Throttle(f.Once.Key, it.owner, ttl)
				for _, k := range f.Once.Covers {
					// Claimed whether or not this finding wins its own
					// throttle: a higher severity was reached either way.
					second.Throttle(k, it.owner, ttl)
				}
			}
			for _, m := range f.Marks {
				second.Mark(m.Key, m.At, m.Keep, m.TTL)
			}
		}
		throttles[i] = fs
	}
	s.alerting = len(throttles) > 0
	sis, err := s.storyItems()
	if err != nil {
		return err
	}
	s.queueStories(&second, sis)
	if second.Len() > 0 {
		if err := s.e.exec(ctx, s, &second); err != nil {
			return fmt.Errorf("throttling findings of %d events: %w", len(throttles), err)
		}
	}
	for i, fs := range throttles {
		it := &s.items[i]
		kept, err := keep(it.candidates, fs)
		if err != nil {
			return fmt.Errorf("throttling findings of event %s: %w", it.event.Record.EventID, err)
		}
		it.candidates = kept
	}
	if err := s.stories(ctx, sis); err != nil {
		return err
	}
	s.fill()
	s.publish()
	s.remember(ctx)
	return nil
}

// fresh reports whether it's findings were raised by this scoring and were
// never handed out: a first delivery, or a redelivery evaluated again.
func (s *scoring) fresh(it *item) bool {
	return it.copyOf < 0 && len(it.candidates) > 0 &&
		(s.verdicts[it.index].Outcome != OutcomeDuplicate || it.redelivered)
}

// publish hands the verdicts with fresh findings or stories to the batch's
// Publish.
func (s *scoring) publish() {
	if s.onPublish == nil {
		return
	}
	var out []Verdict
	for i := range s.items {
		// A record that only chained identities carries stories and no
		// findings: it is handed out for its stories.
		it := &s.items[i]
		switch {
		case s.fresh(it):
			out = append(out, s.verdicts[it.index])
		case len(it.stories) > 0:
			v := s.verdicts[it.index]
			v.Findings = nil // handed out before, if any
			out = append(out, v)
		}
	}
	if len(out) > 0 {
		s.onPublish(out)
	}
}

// remember stores the fresh findings under their events' dedupe keys, so
// redeliveries are answered with them instead of raising them again. The
// verdicts are final and handed out by now, so a failure is logged, not
// returned: the caller has its answer, and an event not remembered is
// evaluated again if it comes back (its findings then go out twice, the
// one case publishing is not once).
func (s *scoring) remember(ctx context.Context) {
	var b state.Batch
	for i := range s.items {
		it := &s.items[i]
		if s.fresh(it) {
			b.Put(it.dedupe, encodeFindings(it.candidates), s.e.opts.DedupeHorizon)
		}
		s.queueEntries(&b, it)
	}
	if b.Len() == 0 {
		return
	}
	if err := s.e.exec(ctx, s, &b); err != nil {
		s.e.opts.Logger.Warn("findings handed out but not remembered; a redelivery will raise them again",
			slog.Int("verdicts", b.Len()), slog.Any("error", err))
	}
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
		v.Stories = it.stories
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
	// By index: an item holds its record (about a kilobyte), which a
	// range by value copied for every record of the batch.
	for i := range s.items {
		if it := &s.items[i]; it.copyOf >= 0 {
			orig := &s.verdicts[it.copyOf]
			s.verdicts[it.index] = Verdict{EventID: orig.EventID, Outcome: OutcomeDuplicate, Findings: orig.Findings}
		}
	}
}
