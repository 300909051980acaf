package server

import "testing"

func TestLargeBufferClasses(t *testing.T) {
	for _, n := range []int{0, 1, 64 << 10, 64<<10 + 1, 100 << 10, 1 << 20, maxPooledBuffer, maxPooledBuffer + 1} {
		b := getLargeBuffer(n)
		if len(b) != n || cap(b) < n {
			t.Fatalf("getLargeBuffer(%d): len %d cap %d", n, len(b), cap(b))
		}
		putLargeBuffer(b)
		// Whatever the pool hands out for n next is large enough.
		if again := getLargeBuffer(n); len(again) != n || cap(again) < n {
			t.Fatalf("getLargeBuffer(%d) after a put: len %d cap %d", n, len(again), cap(again))
		}
	}
	// A buffer of an odd capacity goes to the class below it, never above.
	putLargeBuffer(make([]byte, 100<<10))
	for range 4 {
		if b := getLargeBuffer(128 << 10); cap(b) < 128<<10 {
			t.Fatalf("a 128 KiB request got a buffer of %d bytes", cap(b))
		}
	}
}

// TestFreeListKeepsLargeRequests: a request over maxKeptRecordBytes is
// kept without its records' buffer, which goes to largeBuffers.
func TestFreeListKeepsLargeRequests(t *testing.T) {
	free := newRequestFreeList()
	r := new(receivedRequest)
	r.slabs.data = getLargeBuffer(200 << 10)
	r.slabs.take(maxKeptEvents + 1)
	free.put(r)
	got := free.get()
	if got != r {
		t.Fatal("a large request was dropped; it should be kept without its buffers")
	}
	if got.slabs.data != nil || got.slabs.events != nil {
		t.Fatalf("a kept request still holds %d bytes and room for %d events", cap(got.slabs.data), cap(got.slabs.events))
	}
}
