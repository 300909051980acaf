package engine

import (
	"github.com/iamsentry/iamsentry/detectors"
)

// suppress marks the candidate findings a suppress entry matches. A
// suppressed finding takes no throttle: it must not use up the one alert an
// incident gets, in case a later event of the same incident is not covered
// by the entry.
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
				f.Once = nil
			}
		}
	}
}

// forget drops every candidate finding, for a batch that only learns.
func (s *scoring) forget() {
	for i := range s.items {
		s.items[i].candidates = nil
	}
}
