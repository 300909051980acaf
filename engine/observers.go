package engine

import (
	"strings"
	"unsafe"

	"github.com/iamsentry/iamsentry/detectors"
)

// observerCache remembers detectors.Registry.Observers' answers by the
// addresses of the event source's and name's bytes: the Reader hands
// every record of one call the same two strings (its string cache), and
// the registry's two map look-ups by string (hashing each) cost some
// 140 instructions per event, where finding the slot by address and
// comparing some 30 bytes costs a few dozen. A slot answers only for the
// registry and copies of the strings it was filled with, compared whole
// (a Registry never changes). Strings of the same bytes elsewhere (records parsed one by
// one, each allocating its own) usually land on another slot, miss, and
// take it over, answered by the registry. It is scratch's, used by one
// goroutine at a time.
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
	// The strings are compared whole with the slot's own copies, not by
	// address: no caller has to promise that the bytes behind an address
	// are never rewritten (a source and a name are some 30 bytes).
	if slot.reg == reg && slot.source == source && slot.name == name {
		return slot.observers
	}
	return slot.fill(reg, source, name)
}

// fill makes s answer for reg, source and name, keeping copies of the
// strings: the caller's may be borrowed from a buffer it reuses.
func (s *observerSlot) fill(reg *detectors.Registry, source, name string) []detectors.Detector {
	*s = observerSlot{reg: reg, source: strings.Clone(source), name: strings.Clone(name), observers: reg.Observers(source, name)}
	return s.observers
}
