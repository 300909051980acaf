package cloudtrail

import "sync"

// Buffer reuse. Items alias the Reader's buffers, so by default a buffer
// once filled is never written again and each new stretch of input costs
// a fresh allocation: a month of CloudTrail read by `iamsentry scan` made
// its whole size in garbage, a seventh of what the scan allocated. A
// caller that is done with the items it was given (it scored them, and
// the parser copies what a Record keeps) says so with Release, and the
// buffers those items lived in are read into again, by this Reader or,
// through a pool, by the next one.

// maxRetired bounds the buffers a Reader remembers between Releases: a
// caller that releases rarely, or never, costs what it cost before (the
// rest are left to the garbage collector), not a growing list.
const maxRetired = 16

// chunkPool holds released buffers of exactly chunkSize capacity, shared
// by all Readers (one scan reads many files, one Reader each).
var chunkPool sync.Pool // of *[]byte

// Release tells the Reader that the caller holds none of the Raw slices
// of the items returned so far, nor anything aliasing them: their bytes
// may be overwritten by later input. Items returned after the call are
// unaffected until the next Release. Callers that never call it keep the
// guarantee Item documents: Raw is never written again.
func (r *Reader) Release() {
	r.handed = false
	for i, b := range r.retired {
		putChunk(b)
		r.retired[i] = nil
	}
	r.retired = r.retired[:0]
	if r.err != nil {
		// The input is done with (or broken): nothing more is read into
		// the current buffer or through the decompressor, so they go
		// back too.
		putChunk(r.mem)
		r.mem, r.buf = nil, nil
		r.releaseGzip()
		putChunk(r.head)
		r.head = nil
		if r.dec != nil {
			putDecoder(r.dec)
			r.dec = nil
		}
	}
}

// grow moves what buf holds into the buffer fill reads into next, of at
// least capacity size: from the pool when size fits a pooled chunk. It
// retires the buffer it replaces: straight into the pool when no item
// handed out since the last Release can alias it, else until the next
// Release (a Reader never released pins at most maxRetired of them).
func (r *Reader) grow(size int) {
	old := r.mem
	r.mem = nil
	if size <= chunkSize {
		// Any Reader may take a pooled buffer: only released ones are
		// there. So a scan's next file starts in its last file's buffer.
		if p, ok := chunkPool.Get().(*[]byte); ok {
			r.chunk = chunkSize
			r.mem = (*p)[:cap(*p)]
		}
	}
	if r.mem == nil {
		r.mem = make([]byte, size)
	}
	r.buf = r.mem[:copy(r.mem, r.buf)]
	// A buffer is retired even before the first Release: scan releases a
	// file's items only once the file is scored, and a delivery file of a
	// few hundred records outgrows one buffer, so each file used to leave
	// one buffer to the collector (700 B a record over the realistic
	// month's S3 deliveries).
	switch {
	case !r.handed:
		putChunk(old) // no item returned since the last Release (or ever) can alias it
	case len(r.retired) < maxRetired && cap(old) == chunkSize:
		r.retired = append(r.retired, old)
	}
}

// putChunk gives b to the pool if it has the pooled size.
func putChunk(b []byte) {
	if cap(b) != chunkSize {
		return
	}
	b = b[:0]
	chunkPool.Put(&b)
}
