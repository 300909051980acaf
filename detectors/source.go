package detectors

// source is where an event came from as one configuration's GeoIP
// databases and network lists place it, computed once per event: five
// detectors ask, and a database lookup decodes strings every time.
type source struct {
	settings *Settings // whose databases and lists filled it; nil: not yet
	loc      GeoLocation
	located  bool
	network  Network
}

// SourceLocation is s.GeoIP.Lookup of the event's source address
// (unmapped), looked up at most once per event and Settings. It reports
// false when no database is configured, the source is not an address, or
// no database knows it.
func (s *Settings) SourceLocation(ev *Event) (GeoLocation, bool) {
	src := s.source(ev)
	return src.loc, src.located
}

// SourceNetwork is s.Network of the event's source address (unmapped),
// computed at most once per event and Settings.
func (s *Settings) SourceNetwork(ev *Event) Network {
	return s.source(ev).network
}

// source fills ev's memo for s. The memo is keyed by s so that an event
// judged under two configurations (tests, a reload) never mixes them; an
// Event is used by one goroutine at a time, as Owner already assumes.
func (s *Settings) source(ev *Event) *source {
	src := &ev.source
	if src.settings == s && s != nil {
		return src
	}
	addr := ev.Record.SourceIP.Unmap()
	*src = source{settings: s, network: Network{Addr: addr}}
	if s == nil || s.GeoIP == nil || !addr.IsValid() {
		return src
	}
	src.loc, src.located = s.GeoIP.Lookup(addr)
	src.network = s.classify(addr, src.loc, src.located)
	return src
}
