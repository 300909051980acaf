package state

import (
	"encoding/binary"
	"testing"
)

// tableStep applies one step of a table test, driven by two bytes, to t
// and to model, the map the table must behave as: digests 0 and 1 are
// one (slotDigest), and each digest's value is the last set through ref.
func tableStep(tb testing.TB, t *table[int32], model map[uint64]int32, digests []uint64, op, pick byte, step int) {
	d := digests[int(pick)%len(digests)]
	want, ok := model[slotDigest(d)]
	switch op % 8 {
	case 0:
		t.reset()
		clear(model)
	case 1, 2, 3:
		pos := t.find(d)
		if (pos >= 0) != ok {
			tb.Fatalf("step %d: find(%#x) = %d, want found %v", step, d, pos, ok)
		}
		if ok && t.slots[pos].v != want {
			tb.Fatalf("step %d: find(%#x) holds %d, want %d", step, d, t.slots[pos].v, want)
		}
	default:
		pos, fresh := t.ref(d)
		if fresh == ok {
			tb.Fatalf("step %d: ref(%#x) fresh = %v, with the digest held %v", step, d, fresh, ok)
		}
		if !fresh && t.slots[pos].v != want {
			tb.Fatalf("step %d: ref(%#x) holds %d, want %d", step, d, t.slots[pos].v, want)
		}
		if t.slots[pos].d == 0 {
			tb.Fatalf("step %d: ref(%#x) answered a free slot", step, d)
		}
		t.slots[pos].v = int32(step)
		model[slotDigest(d)] = int32(step)
	}
	if t.n != len(model) {
		tb.Fatalf("step %d: the table holds %d digests, want %d", step, t.n, len(model))
	}
}

// testDigests are digests a table test draws from: 0 and 1, which share a
// slot, digests whose low bits collide (they probe past one another),
// and the largest.
func testDigests() []uint64 {
	ds := []uint64{0, 1, 2, ^uint64(0)}
	for i := range uint64(200) {
		ds = append(ds, i<<12|7, mix(i+3))
	}
	return ds
}

// TestTableIsAMap checks the digest table against a map, through growth
// from empty to hundreds of digests, resets, and the digest 0, which
// marks a free slot and is filed as 1.
func TestTableIsAMap(t *testing.T) {
	var tab table[int32]
	model := map[uint64]int32{}
	ds := testDigests()
	for step := range 20000 {
		op := byte(1 + step%7) // no reset until the table has grown
		if step > 10000 && step%4000 == 0 {
			op = 0
		}
		tableStep(t, &tab, model, ds, op, byte(mix(uint64(step))), step)
	}
	if len(tab.slots) < 512 {
		t.Fatalf("the table grew to %d slots only: the test does not exercise growth", len(tab.slots))
	}
	if pos := tab.find(0); pos < 0 || tab.find(1) != pos {
		t.Fatalf("find(0) = %d, find(1) = %d: the digests 0 and 1 are one", pos, tab.find(1))
	}
}

// FuzzTable checks the digest table against a map on sequences of steps
// the fuzzer picks (see tableStep).
func FuzzTable(f *testing.F) {
	f.Add([]byte{4, 0, 4, 1, 1, 0, 1, 1, 0, 0, 5, 2})
	f.Add(binary.LittleEndian.AppendUint64(nil, 0x0504030201000403))
	f.Fuzz(func(t *testing.T, steps []byte) {
		var tab table[int32]
		model := map[uint64]int32{}
		ds := testDigests()
		for i := 0; i+1 < len(steps); i += 2 {
			tableStep(t, &tab, model, ds, steps[i], steps[i+1], i/2)
		}
	})
}
