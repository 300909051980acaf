package detectors_test

import (
	"fmt"
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/internal/allocstest"
)

type slabValue struct {
	n    int
	name string
}

// TestSlabHandsOutDistinctZeroValues takes many values from one arena,
// writing each as it comes, and checks every one still holds what was
// written: a value is never handed out twice, and each comes zeroed.
func TestSlabHandsOutDistinctZeroValues(t *testing.T) {
	slab := detectors.NewSlab[slabValue]()
	other := detectors.NewSlab[slabValue]() // a second slab of the type shares nothing
	var arena detectors.Arena
	ev := &detectors.Event{}
	ev.UseArena(&arena)
	var got []*slabValue
	for i := range 200 {
		s := slab
		if i%3 == 0 {
			s = other
		}
		v := s.New(ev)
		if *v != (slabValue{}) {
			t.Fatalf("value %d came as %+v, want zero", i, *v)
		}
		*v = slabValue{n: i, name: "v"}
		got = append(got, v)
	}
	for i, v := range got {
		if v.n != i || v.name != "v" {
			t.Fatalf("value %d reads %+v: handed out again and overwritten", i, *v)
		}
	}
}

// TestEventWithoutArenaAllocates checks an Event a test builds (no arena)
// still gets values and strings, allocated.
func TestEventWithoutArenaAllocates(t *testing.T) {
	ev := &detectors.Event{}
	a, b := detectors.NewSlab[slabValue]().New(ev), detectors.NewSlab[slabValue]().New(ev)
	if a == b || *a != (slabValue{}) {
		t.Fatalf("New without an arena: %p %p %+v, want two zero values", a, b, *a)
	}
	if s := ev.String([]byte("key:AKIA")); s != "key:AKIA" {
		t.Fatalf("String = %q", s)
	}
}

// TestArenaRecycle checks what Recycle promises: the values of the next
// batch come zeroed and from the storage of the last (no allocation once
// it is warm), and the strings of the last batch read as they were built.
func TestArenaRecycle(t *testing.T) {
	slab := detectors.NewSlab[slabValue]()
	var arena detectors.Arena
	ev := &detectors.Event{}
	ev.UseArena(&arena)
	const perBatch = 100
	batch := func(round int) (values []*slabValue, strs []string) {
		for i := range perBatch {
			v := slab.New(ev)
			if *v != (slabValue{}) {
				t.Fatalf("round %d, value %d came as %+v, want zero", round, i, *v)
			}
			*v = slabValue{n: i, name: "v"}
			values = append(values, v)
			strs = append(strs, ev.String([]byte(fmt.Sprint("s", round, "-", i))))
		}
		return values, strs
	}
	_, first := batch(0)
	arena.Recycle()
	values, _ := batch(1)
	for i, s := range first {
		if want := fmt.Sprint("s0-", i); s != want {
			t.Fatalf("string %d of the batch before reads %q after Recycle, want %q", i, s, want)
		}
	}
	for i, v := range values {
		if v.n != i {
			t.Fatalf("value %d reads %+v: handed out twice in one batch", i, *v)
		}
	}
	arena.Recycle()
	if n := allocstest.Floor(10, func() {
		for range perBatch {
			slab.New(ev)
		}
		arena.Recycle()
	}); n != 0 {
		t.Errorf("a recycled batch of %d values allocated %v times, want 0", perBatch, n)
	}
}
