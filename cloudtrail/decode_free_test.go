package cloudtrail

import (
	"runtime"
	"testing"
)

// TestFreeDecodersOutliveCollections: a decoder given back is the one the
// next parse gets, with its tables, even after garbage collections (which
// emptied the sync.Pool it used to be kept in, and its memos with it).
func TestFreeDecodersOutliveCollections(t *testing.T) {
	d := getDecoder()
	if d.pred == nil || d.idents == nil || d.filled.ips == nil {
		t.Fatal("a decoder of the free list must have its tables")
	}
	putDecoder(d)
	runtime.GC()
	runtime.GC()
	got := getDecoder()
	defer putDecoder(got)
	if got != d {
		t.Error("the decoder given back last was not kept through two collections")
	}
}

// TestFreeDecodersBounded: a burst of parallel parses leaves at most
// maxFreeDecoders decoders behind.
func TestFreeDecodersBounded(t *testing.T) {
	var held []*decoder
	for range maxFreeDecoders + 3 {
		held = append(held, getDecoder())
	}
	for _, d := range held {
		putDecoder(d)
	}
	freeDecoders.Lock()
	n := len(freeDecoders.list)
	freeDecoders.Unlock()
	if n > maxFreeDecoders {
		t.Errorf("%d decoders kept, want at most %d", n, maxFreeDecoders)
	}
}
