package server

import "testing"

// TestDirtyPoolClasses: whatever the pool hands out for n has length n
// and room for it, before and after buffers of every class come back,
// including one of an odd capacity, which may only serve smaller sizes.
func TestDirtyPoolClasses(t *testing.T) {
	var p dirtyPool
	sizes := []int{0, 1, 100, minPooledBuffer, 2 << 10, 2<<10 + 1, 64 << 10, 64<<10 + 1, 100 << 10, 1 << 20, maxPooledBuffer, maxPooledBuffer + 1}
	for _, n := range sizes {
		b := p.Get(n)
		if len(*b) != n || cap(*b) < n {
			t.Fatalf("Get(%d): len %d cap %d", n, len(*b), cap(*b))
		}
		p.Put(b)
		if again := p.Get(n); len(*again) != n || cap(*again) < n {
			t.Fatalf("Get(%d) after a Put: len %d cap %d", n, len(*again), cap(*again))
		}
	}
	odd := make([]byte, 100<<10)
	p.Put(&odd)
	for range 4 {
		if b := p.Get(128 << 10); cap(*b) < 128<<10 {
			t.Fatalf("a 128 KiB request got a buffer of %d bytes", cap(*b))
		}
	}
	if b := p.Get(64 << 10); cap(*b) < 64<<10 {
		t.Fatalf("a 64 KiB request got a buffer of %d bytes", cap(*b))
	}
}

// TestDirtyPoolDoesNotClear: a buffer comes back as it was left. That is
// the pool's point (gRPC's clears every buffer, whole), and why every
// user must write a buffer whole before reading it.
func TestDirtyPoolDoesNotClear(t *testing.T) {
	var p dirtyPool
	for range 10 { // a collection may empty the pool between Put and Get
		b := p.Get(3 << 10)
		for i := range *b {
			(*b)[i] = 0xA5
		}
		p.Put(b)
		if again := p.Get(3 << 10); again == b {
			if (*again)[0] != 0xA5 || (*again)[len(*again)-1] != 0xA5 {
				t.Fatal("the pool cleared a buffer it handed out again")
			}
			return
		}
	}
	t.Skip("the pool never handed the same buffer back (collections emptied it)")
}

// TestFreeListKeepsLargeRequests: a request over maxKeptRecordBytes is
// kept without its records' buffer, which goes to buffers.
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
