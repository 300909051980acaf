package detectors

import (
	"sync/atomic"

	"github.com/iamsentry/iamsentry/internal/chunks"
)

// UseArena has the event's strings (String) and evaluations (Slab.New)
// carved from a, the arena of the batch the event belongs to: a detector
// builds a member or two and one evaluation for most events it observes,
// and one allocation each was a third of the allocations of observing. A
// is used by the goroutine scoring the batch only, as the Event is.
// Without an arena (an Event a test builds) both allocate.
func (ev *Event) UseArena(a *Arena) { ev.arena = a }

// String returns string(b), carved from the event's arena when it has one
// (see UseArena): for strings a detector builds per event, such as state
// members and key identities.
func (ev *Event) String(b []byte) string {
	if ev.arena != nil {
		return ev.arena.String(b)
	}
	return string(b)
}

// Slab hands out zeroed values of T, an evaluation type, for events:
// carved from chunks of the event's arena (see UseArena), one chunk per
// few values rather than one allocation per value. A value stays the
// event's until its arena is recycled (Arena.Recycle); until then the
// values of a chunk are never handed out twice. Make one Slab per type,
// at package level, with NewSlab; it is safe for concurrent use (the
// chunks are the arena's, and an arena belongs to one goroutine).
type Slab[T any] struct{ id int }

// slabs counts the Slabs made: each has its place in every arena.
var slabs atomic.Int32

// NewSlab returns a Slab of T.
func NewSlab[T any]() *Slab[T] { return &Slab[T]{id: int(slabs.Add(1) - 1)} }

// slabChunk is what an arena keeps of one Slab: its chunks of values.
// They double up to slabMaxChunk, from 2, so a batch of a few events
// zeroes a few values, not a whole chunk's.
type slabChunk[T any] struct{ chunks.Chunks[T] }

// slabMaxChunk bounds a chunk: a value kept past its batch (a finding's)
// pins at most this many neighbours.
const slabMaxChunk = 32

// New returns a pointer to a zero T, carved from ev's arena when it has
// one, else allocated.
func (s *Slab[T]) New(ev *Event) *T {
	a := ev.arena
	if a == nil {
		return new(T)
	}
	if s.id >= len(a.slabs) {
		a.slabs = append(a.slabs, make([]recycler, s.id+1-len(a.slabs))...)
	}
	c, _ := a.slabs[s.id].(*slabChunk[T])
	if c == nil {
		c = &slabChunk[T]{}
		a.slabs[s.id] = c
	}
	return c.Next(min(2<<min(c.Made(), 5), slabMaxChunk))
}

// recycler is a slabChunk of any type.
type recycler interface{ Recycle() }

// Recycle readies a for the next batch's events. Its strings are left to
// whoever holds them (findings and stores may keep them past the batch),
// and the next strings come from a chunk of their own; the values Slab.New
// handed out are taken back, cleared, for the values of the next batch:
// every one of them is invalid from then on. It is for the owner of a's
// batch that holds every reader of its evaluations and knows none is
// left: the engine, once a micro-batch's verdicts are out (evaluations
// build findings of their own, never pointing into themselves). A batch
// carved some 500 bytes of evaluations per event, a third of the engine's
// bytes allocated, each chunk pointer-laden for the collector to mark.
func (a *Arena) Recycle() {
	a.chunk = nil
	for _, c := range a.slabs {
		if c != nil {
			c.Recycle()
		}
	}
}
