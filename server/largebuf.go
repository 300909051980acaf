package server

import (
	"math/bits"
	"sync"
)

// largeBuffers are the buffers of Score requests too large for a stream
// to keep (over maxKeptRecordBytes), shared by every stream. A shipper
// that sends batches of a hundred records sends 100–200 KiB a request: at
// 20k events/s that was a new block a request, a quarter of the bytes the
// server allocated, cleared by make before being copied over. In a
// sync.Pool they cost no memory once traffic stops (every collection
// empties the pool), unlike a stream's free list, which holds what it
// keeps for as long as the stream is open.
//
// Buffers are pooled by size class, a power of two from 64 KiB to
// maxPooledBuffer: a buffer of any class is at least as large as every
// request that asks for that class.
var largeBuffers [largeClasses]sync.Pool

const (
	minLargeClass   = 16 // 64 KiB
	largeClasses    = 9  // up to 16 MiB, the default MaxRecvMsgSize
	maxPooledBuffer = 1 << (minLargeClass + largeClasses - 1)
)

// getLargeBuffer returns a buffer of length n (its contents undefined),
// from the pool when one of n's class is there.
func getLargeBuffer(n int) []byte {
	if n <= 0 || n > maxPooledBuffer {
		return make([]byte, n)
	}
	c := max(bits.Len(uint(n-1))-minLargeClass, 0) // the class whose size is n rounded up
	if p, ok := largeBuffers[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<(c+minLargeClass))
}

// putLargeBuffer gives b back for another request to use; nothing may
// refer into it any more.
func putLargeBuffer(b []byte) {
	c := bits.Len(uint(cap(b))) - 1 - minLargeClass // the class whose size is cap(b) rounded down
	if c < 0 || c >= largeClasses {
		return
	}
	largeBuffers[c].Put(&b)
}
