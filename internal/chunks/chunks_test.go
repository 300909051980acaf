package chunks_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/internal/chunks"
)

// TestNextRecycleForget checks the contract: values come zero and are
// never handed out twice between recycles; Recycle hands the same storage
// out again, zeroed, without allocating; Forget leaves values as written.
func TestNextRecycleForget(t *testing.T) {
	var c chunks.Chunks[int]
	take := func(n int) []*int {
		var got []*int
		for i := range n {
			p := c.Next(4)
			if *p != 0 {
				t.Fatalf("value %d came as %d, want 0", i, *p)
			}
			*p = i + 1
			got = append(got, p)
		}
		return got
	}
	first := take(10)
	for i, p := range first {
		if *p != i+1 {
			t.Fatalf("value %d reads %d: handed out twice", i, *p)
		}
	}
	made := c.Made()
	c.Recycle()
	again := take(10)
	if c.Made() != made {
		t.Errorf("recycled chunks: %d fresh chunks made, want %d", c.Made(), made)
	}
	c.Forget()
	take(10)
	for i, p := range again {
		if *p != i+1 {
			t.Fatalf("value %d reads %d after Forget, want %d", i, *p, i+1)
		}
	}
}
