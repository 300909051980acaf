package engine

import (
	"unsafe"

	"github.com/iamsentry/iamsentry/detectors"
)

// observerCache remembers detectors.Registry.Observers' answers by the
// addresses of the event source's and name's bytes: the Reader hands
// every record of one call the same two strings (its string cache), and
// the registry's two map look-ups by string (hashing each) cost some
// 140 instructions per event, where comparing addresses and lengths costs
// a few. A slot answers only for the registry and the strings it holds: a
// Registry never changes, nor do a Go string's bytes, and the slot keeps
// them alive, so no other bytes can take their address while it does.
// Strings of the same bytes elsewhere (records parsed one by one, each
// allocating its own) miss and take the slot over, answered by the
// registry. It is scratch's, used by one goroutine at a time.
type observerCache struct {
	slots [observerSlots]observerSlot
}

type observerSlot struct {
	reg          *detectors.Registry // nil: empty slot
	source, name string
	observers    []detectors.Detector
}

const observerSlots = 256 // a power of two; the realistic month has 90 calls

// of returns reg.Observers(source, name). It is small enough to be
// inlined; a miss costs the call to fill.
func (c *observerCache) of(reg *detectors.Registry, source, name string) []detectors.Detector {
	ps, pn := unsafe.StringData(source), unsafe.StringData(name)
	h := uintptr(unsafe.Pointer(ps))>>4 ^ uintptr(unsafe.Pointer(pn))>>3
	slot := &c.slots[(h^h>>7)&(observerSlots-1)]
	if slot.reg == reg && unsafe.StringData(slot.source) == ps && unsafe.StringData(slot.name) == pn &&
		len(slot.source) == len(source) && len(slot.name) == len(name) {
		return slot.observers
	}
	return slot.fill(reg, source, name)
}

// fill makes s answer for reg, source and name.
func (s *observerSlot) fill(reg *detectors.Registry, source, name string) []detectors.Detector {
	*s = observerSlot{reg: reg, source: source, name: name, observers: reg.Observers(source, name)}
	return s.observers
}
