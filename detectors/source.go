package detectors

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
	"unsafe"
	"weak"
)

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
	slot := &sourceMemo[sourceSlot(s, addr)]
	if e := slot.Load(); e != nil && e.src.network.Addr == addr && e.settings.Value() == s {
		*src = e.src
		src.settings = s
		return src
	}
	src.loc, src.located = s.GeoIP.Lookup(addr)
	src.network = s.classify(addr, src.loc, src.located)
	e := &memoEntry{settings: weak.Make(s), src: *src}
	e.src.settings = nil
	slot.Store(e)
	return src
}

// sourceMemo remembers where the addresses events come from are, by
// Settings and address: a principal calls from a few addresses, record
// after record, and each record's database lookup (a tree walk and the
// decoding of its strings) was a tenth of the cost of observing it. It is
// a pure function's cache, not a memory of identities: bounded,
// direct-mapped (a colliding address replaces the entry), and safe for
// concurrent use without locks, an entry being immutable once stored. It
// assumes, as every detector does, that Settings do not change once
// events are judged under them.
var sourceMemo [sourceMemoSlots]atomic.Pointer[memoEntry]

// memoEntry is a source placed under one Settings, which it names by a
// weak pointer. A strong one kept every configuration a reload replaced
// reachable, with its GeoIP databases' decode caches, for as long as any
// of its entries stayed in a slot no address of the new one hashes to:
// months, for an address seen once. A weak pointer to Settings that were
// collected is nil, so an entry never answers for Settings allocated
// later at the same address.
type memoEntry struct {
	settings weak.Pointer[Settings]
	src      source // its settings nil
}

const sourceMemoSlots = 4096 // a power of two

// sourceSlot is where sourceMemo keeps addr under s.
func sourceSlot(s *Settings, addr netip.Addr) uint64 {
	a := addr.As16()
	h := binary.LittleEndian.Uint64(a[:8])*0x9E3779B97F4A7C15 ^ binary.LittleEndian.Uint64(a[8:])
	h ^= uint64(uintptr(unsafe.Pointer(s)))
	// splitmix64's finaliser: every input bit moves the slot's bits.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return (h ^ h>>31) & (sourceMemoSlots - 1)
}
