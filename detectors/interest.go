package detectors

// Call names the CloudTrail events of one API call: its event source and
// event name, compared exactly, as the records carry them. A Call with no
// Name stands for every event of its Source.
type Call struct {
	Source, Name string
}

// Selective is implemented by a detector that acts on the events of a few
// calls only (a change to IAM, a sign-in): Interests lists every call
// whose events its Observe may act on. For an event of any other call
// Observe must return nil and queue nothing on the batch, whatever the
// event's other fields, so the engine does not call it (Registry.Observers):
// most records come from services such a detector never looks at, and
// calling it for each cost the call and its filter. Listing a call the
// detector then ignores is harmless; leaving one out loses findings, which
// the detectors' tests check over the realistic month and the attack
// recordings (TestInterestsHoldEveryActedOnEvent).
//
// A detector that may act on any event (baselines, per-person learning)
// does not implement Selective, and is called for every event. Interests
// returns the same calls on every call, fixed at construction.
type Selective interface {
	Interests() []Call
}

// InterestsOf returns d's Interests, and false when d may act on any event.
func InterestsOf(d Detector) ([]Call, bool) {
	if o, ok := d.(*overridden); ok {
		d = o.Detector
	}
	s, ok := d.(Selective)
	if !ok {
		return nil, false
	}
	return s.Interests(), true
}

// observers is the enabled detectors by the calls they may act on
// (Registry.Observers), each list in registration order.
type observers struct {
	// rest is for an event of a source no detector names: the detectors
	// that act on any event.
	rest     []Detector
	bySource map[string]*sourceObservers
}

// sourceObservers is the detectors for the events of one named source.
type sourceObservers struct {
	// any is for an event whose name no detector names for the source:
	// those that act on any event, and on every event of the source.
	any    []Detector
	byName map[string][]Detector // nil when no detector names a call of the source
}

// newObservers sorts the detectors of on by the calls they may act on.
func newObservers(on []Detector) observers {
	calls := make([]map[Call]bool, len(on)) // nil: acts on any event
	names := map[string]map[string]bool{}   // the names declared, by source
	for i, d := range on {
		cs, ok := InterestsOf(d)
		if !ok {
			continue
		}
		calls[i] = make(map[Call]bool, len(cs))
		for _, c := range cs {
			calls[i][c] = true
			if names[c.Source] == nil {
				names[c.Source] = map[string]bool{}
			}
			if c.Name != "" {
				names[c.Source][c.Name] = true
			}
		}
	}
	// observing lists, in registration order, the detectors that may act on
	// an event of source and name ("" for a name none declares).
	observing := func(source, name string) []Detector {
		var out []Detector
		for i, d := range on {
			if calls[i] == nil || calls[i][Call{Source: source}] || (name != "" && calls[i][Call{Source: source, Name: name}]) {
				out = append(out, d)
			}
		}
		return out[:len(out):len(out)]
	}
	o := observers{rest: observing("", ""), bySource: make(map[string]*sourceObservers, len(names))}
	for source, ns := range names {
		so := &sourceObservers{any: observing(source, "")}
		if len(ns) > 0 {
			so.byName = make(map[string][]Detector, len(ns))
			for name := range ns {
				so.byName[name] = observing(source, name)
			}
		}
		o.bySource[source] = so
	}
	return o
}

// Observers returns the enabled detectors that may act on an event of
// source and name, in registration order: those that act on any event,
// and those whose Interests name the call or its whole source. The
// others would return nil and queue nothing (see Selective), so calling
// only these observes an event as calling every enabled detector does,
// operation for operation. The slice is shared: callers must not modify it.
func (r *Registry) Observers(source, name string) []Detector {
	so := r.observers.bySource[source]
	if so == nil {
		return r.observers.rest
	}
	if so.byName != nil {
		if ds, ok := so.byName[name]; ok {
			return ds
		}
	}
	return so.any
}
