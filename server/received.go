package server

import (
	"google.golang.org/grpc/mem"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// receivedRequest is a ScoreRequest as a Score stream receives it, with
// what it takes to answer it, so that a stream's next requests are read
// into the memory of those it has answered. In the open loop a request
// carries one to three events, and each used to cost the message, the
// blocks decodeScoreRequest made for its events and its response: six
// allocations a request, a twentieth of what the server made per event.
//
// It is a proto.Message through the embedded ScoreRequest (reflection
// sees the ScoreRequest alone); the server's codec recognises it and
// decodes into its slabs (unmarshalRecords).
type receivedRequest struct {
	iamsentryv1.ScoreRequest
	slabs eventSlabs
	resp  iamsentryv1.ScoreResponse // the response, reused once sent
	// wire is the request's size as received (after decompression),
	// which limitCodec held to MaxRecvMsgSize. Encoding the decoded
	// request again never makes it larger (the encoding is minimal), so
	// the read-ahead budget takes this size and limitedStream checks no
	// size again: two walks of proto.Size a request fewer.
	wire int
}

// hold copies data, a request as the transport received it, into r's own
// buffer (its slabs' records block) and returns it; decoding it, the
// records refer into it. The transport's buffers go back to its pool once
// decoding returns, so the request's bytes are copied once either way:
// here, instead of once into a contiguous buffer of the pool (which the
// pool clears whole before handing out: a 16 KiB block for a request
// spanning two frames) and again record by record.
func (r *receivedRequest) hold(data mem.BufferSlice) []byte {
	n := data.Len()
	if cap(r.slabs.data) < n {
		if n > maxKeptRecordBytes {
			r.slabs.data = getLargeBuffer(n)
		} else {
			r.slabs.data = make([]byte, n)
		}
	}
	b := r.slabs.data[:n]
	data.CopyTo(b)
	return b
}

// held reports whether b is the buffer hold returned.
func (r *receivedRequest) held(b []byte) bool {
	return len(b) > 0 && cap(r.slabs.data) > 0 && &b[0] == &r.slabs.data[:1][0]
}

// maxKeptRecordBytes bounds the records' bytes a request kept for reuse
// may hold: a stream that once sent a large batch keeps at most this much
// a request, not its largest request's size.
const maxKeptRecordBytes = 32 << 10

// maxKeptRequests bounds the answered requests a stream keeps for reuse:
// enough for the few in flight a stream of small requests has, at most
// about maxKeptRequests × (maxKeptRecordBytes + maxKeptEvents events) of
// memory a stream.
const maxKeptRequests = 16

// maxKeptEvents bounds the events a request kept for reuse has room for
// (about 90 bytes each in the slabs).
const maxKeptEvents = 256

// requestFreeList holds a stream's answered requests for its receive loop
// to read the next ones into. The stream's handler puts, its receive
// goroutine gets; neither waits on the other.
type requestFreeList chan *receivedRequest

func newRequestFreeList() requestFreeList { return make(requestFreeList, maxKeptRequests) }

// get returns a request to receive into: one answered before, or a new
// one.
func (l requestFreeList) get() *receivedRequest {
	select {
	case r := <-l:
		return r
	default:
		return new(receivedRequest)
	}
}

// put keeps r, whose response was sent and whose records nothing reads
// any more, for reuse; it drops r when the list is full. Records over
// maxKeptRecordBytes go back to buffers instead, and room for over
// maxKeptEvents events is dropped. Nothing r's message refers to
// outlives this: the message and response are emptied, so a request kept
// pins no verdicts.
func (l requestFreeList) put(r *receivedRequest) {
	if cap(r.slabs.data) > maxKeptRecordBytes {
		putLargeBuffer(r.slabs.data)
		r.slabs.data = nil
	}
	if cap(r.slabs.events) > maxKeptEvents {
		r.slabs.events, r.slabs.wrappers, r.slabs.ptrs = nil, nil, nil
	}
	r.Reset()
	r.resp.Reset()
	r.wire = 0
	select {
	case l <- r:
	default:
	}
}
