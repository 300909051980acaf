package server

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/mem"
)

// buffers pools the server's own byte buffers: the bytes of Score
// requests too large for a stream to keep (over maxKeptRecordBytes), and
// the buffers Score responses are marshalled into. It hands a buffer out
// as it was left, not cleared: each use writes a buffer whole before
// reading it (a request is copied in, a response marshalled in and cut
// to its length). gRPC's own pools clear every buffer they hand out,
// whole: a 4 KiB block for a response of a hundred bytes, a new block
// for every 100–200 KiB request a shipper's batch of a hundred records
// makes, a quarter of what the server allocated at 20k events/s.
//
// In sync.Pools the buffers cost no memory once traffic stops (every
// collection empties the pools), unlike a stream's free list, which
// holds what it keeps for as long as the stream is open.
var buffers dirtyPool

// dirtyPool is a mem.BufferPool that does not clear. Buffers are pooled
// by size class, a power of two from minBufferClass to maxPooledBuffer:
// a buffer of any class is at least as large as every request for that
// class. Larger requests get a buffer of their own, which Put drops.
type dirtyPool struct {
	classes [bufferClasses]sync.Pool
}

const (
	minBufferClass  = 11 // 2 KiB: most responses, a sequence and a few verdicts
	bufferClasses   = 14 // up to 16 MiB, the default MaxRecvMsgSize
	maxPooledBuffer = 1 << (minBufferClass + bufferClasses - 1)
)

// Get implements mem.BufferPool: a buffer of length n, its contents
// undefined.
func (p *dirtyPool) Get(n int) *[]byte {
	if n <= 0 || n > maxPooledBuffer {
		b := make([]byte, n)
		return &b
	}
	c := max(bits.Len(uint(n-1))-minBufferClass, 0) // the class whose size is n rounded up
	if b, ok := p.classes[c].Get().(*[]byte); ok {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<(c+minBufferClass))
	return &b
}

// Put implements mem.BufferPool: b goes to the class its capacity
// rounds down to; nothing may refer into it any more.
func (p *dirtyPool) Put(b *[]byte) {
	c := bits.Len(uint(cap(*b))) - 1 - minBufferClass // the class whose size is cap rounded down
	if c < 0 || c >= bufferClasses {
		return
	}
	p.classes[c].Put(b)
}

var _ mem.BufferPool = (*dirtyPool)(nil)

// getLargeBuffer returns a buffer of length n from buffers, for a
// request's bytes.
func getLargeBuffer(n int) []byte { return *buffers.Get(n) }

// putLargeBuffer gives b back to buffers for another request to use.
func putLargeBuffer(b []byte) { buffers.Put(&b) }
