package memory

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestBucketBytesKeptMatchRecount checks the running sum a bucket entry
// keeps of its sets' bytes against a recount over every set, through
// random adds (new buckets, new and repeated members) and trims.
func TestBucketBytesKeptMatchRecount(t *testing.T) {
	const w = 10
	e := newEntry("reads", kindBuckets)
	r := rand.New(rand.NewPCG(3, 4))
	for step := range 5000 {
		at := int64(step/5 + r.IntN(50))
		if r.IntN(20) == 0 {
			e.trimBuckets(at-200, w)
		} else {
			e.addToBucket(at-at%w, fmt.Sprintf("evt-%d", r.IntN(400)))
		}
		var want int64
		for _, b := range e.aux.buckets {
			want += mapBytes(len(b.set), 16) + 4*int64(len(b.set))
		}
		if e.mark != want {
			t.Fatalf("step %d: kept %d bytes of sets over %d buckets, a recount gives %d", step, e.mark, len(e.aux.buckets), want)
		}
	}
	if len(e.aux.buckets) == 0 {
		t.Fatal("every bucket was trimmed: the test checked an empty entry")
	}
}

// TestAllocTableMatchesSearch checks the size-class table alloc uses for
// small sizes against the binary search over the classes, at every size
// the table covers and across its edge.
func TestAllocTableMatchesSearch(t *testing.T) {
	for n := int64(-1); n <= 2*smallMax; n++ {
		if got, want := alloc(n), searchClass(n); got != want {
			t.Fatalf("alloc(%d) = %d, the size classes give %d", n, got, want)
		}
	}
	if got := alloc(1); got != 8 {
		t.Fatalf("alloc(1) = %d, want the smallest class, 8", got)
	}
	if got := alloc(smallMax + 1); got != 1152 {
		t.Fatalf("alloc(%d) = %d, want the next class, 1152", smallMax+1, got)
	}
}

// TestMapBytesTable checks mapBytes's table of the store's maps by
// string against the sum it holds.
func TestMapBytesTable(t *testing.T) {
	for _, slot := range []int64{8, 16, 24, 40} {
		for n := range 2 * smallMax {
			if got, want := mapBytes(n, slot), mapBytesOf(n, slot); got != want {
				t.Fatalf("mapBytes(%d, %d) = %d, want %d", n, slot, got, want)
			}
		}
	}
}
