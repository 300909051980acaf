package memory

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unique"
)

// TestBucketBytesKeptMatchRecount checks the running sum a bucket entry
// keeps of its sets' bytes against a recount over every set, through
// random adds (new buckets, new and repeated members) and trims.
func TestBucketBytesKeptMatchRecount(t *testing.T) {
	const w = 10
	e := newEntry(unique.Make("reads"), kindBuckets)
	r := rand.New(rand.NewPCG(3, 4))
	for step := range 5000 {
		at := int64(step/5 + r.IntN(50))
		if r.IntN(20) == 0 {
			e.trimBuckets(at-200, w)
		} else {
			e.addToBucket(at-at%w, fmt.Sprintf("evt-%d", r.IntN(400)))
		}
		var want int64
		for _, set := range e.buckets {
			want += mapBytes(len(set), 16) + 4*int64(len(set))
		}
		if e.mark != want {
			t.Fatalf("step %d: kept %d bytes of sets over %d buckets, a recount gives %d", step, e.mark, len(e.buckets), want)
		}
	}
	if len(e.buckets) == 0 {
		t.Fatal("every bucket was trimmed: the test checked an empty entry")
	}
}
