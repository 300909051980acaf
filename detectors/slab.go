package detectors

import "sync/atomic"

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

// slabChunk is what an arena keeps of one Slab: the values not handed out
// yet, the size of its next chunk, and the chunks handed out from and
// taken back (see Arena.Recycle). Chunks double up to slabMaxChunk, so a
// batch of a few events zeroes a few values, not a whole chunk's.
type slabChunk[T any] struct {
	free  []T
	next  int
	taken [][]T // the chunks values were handed out from since the last recycle
	spare [][]T // chunks recycle took back, cleared, for the next values
}

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
		c = &slabChunk[T]{next: 2}
		a.slabs[s.id] = c
	}
	if len(c.free) == 0 {
		c.refill()
	}
	v := &c.free[0]
	c.free = c.free[1:]
	return v
}

// refill starts c's next chunk: a spare one, the largest first, or a
// fresh one.
func (c *slabChunk[T]) refill() {
	if n := len(c.spare); n > 0 {
		c.free, c.spare[n-1] = c.spare[n-1], nil
		c.spare = c.spare[:n-1]
	} else {
		c.free = make([]T, c.next)
		c.next = min(2*c.next, slabMaxChunk)
	}
	c.taken = append(c.taken, c.free)
}

// recycle clears the chunks values were handed out from and keeps them
// for the next values, in the order they were taken, so that the largest
// (the last) is used first.
func (c *slabChunk[T]) recycle() {
	for i, ch := range c.taken {
		clear(ch)
		c.spare = append(c.spare, ch)
		c.taken[i] = nil
	}
	c.taken, c.free = c.taken[:0], nil
}

// recycler is a slabChunk of any type.
type recycler interface{ recycle() }

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
			c.recycle()
		}
	}
}
