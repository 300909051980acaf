package engine

import (
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// suppress marks the candidate findings a suppress entry matches.
//
// A suppressed finding takes a throttle of its own (suppressedOnce), so an
// incident is reported as suppressed once, not once per event of its burst
// (12 terraform plans used to report 204 suppressed findings). It is not
// the incident's alert throttle: a later event of the same incident that
// no entry covers (a stolen session of the pipeline, from elsewhere) still
// raises the incident's one alert.
func (s *scoring) suppress() {
	if len(s.rules.Suppress) == 0 {
		return
	}
	for i := range s.items {
		it := &s.items[i]
		for j := range it.candidates {
			f := &it.candidates[j]
			if e := detectors.Suppress(s.rules.Suppress, f, it.event.Record); e != nil {
				f.Suppressed = &detectors.Suppressed{Entry: e.Entry, Reason: e.Reason}
				f.Once = suppressedOnce(f.Once)
			}
		}
	}
}

// suppressedOnce is the throttle a suppressed finding takes in place of
// once: the same key and period, in a name of its own. Nil stays nil: a
// finding without a throttle is one per event, suppressed or not.
func suppressedOnce(once *detectors.Once) *detectors.Once {
	if once == nil {
		return nil
	}
	o := *once
	o.Key.Name += "|suppressed"
	o.Covers = make([]state.Key, len(once.Covers))
	for i, k := range once.Covers {
		k.Name += "|suppressed"
		o.Covers[i] = k
	}
	return &o
}

// forget drops every candidate finding, for a batch that only learns.
func (s *scoring) forget() {
	for i := range s.items {
		s.items[i].candidates = nil
	}
}
