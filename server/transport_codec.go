package server

import (
	collectorlogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	vectorpb "github.com/iamsentry/iamsentry/gen/vector"
)

// DefaultMaxIngestRecords bounds the records of one OTLP or Vector
// request. An empty record is two bytes on the wire and a few hundred
// once decoded and converted, so the byte limit alone lets a request
// hold tens of millions of them; shippers send batches of thousands.
const DefaultMaxIngestRecords = 100_000

// limitCodec is the server's protobuf codec: recordCodec, except that
// before decoding a request it counts the records on the wire (without
// allocating) and checks the limits of the request's kind, so a request
// over them is never decoded.
// A codec error would reach the caller as INTERNAL, so a refused request
// is left empty and its status kept for the limit interceptors
// (limitUnary, limitedStream), which answer with it.
type limitCodec struct {
	recordCodec
	s *Server
}

func newLimitCodec(s *Server) limitCodec { return limitCodec{recordCodec: newRecordCodec(), s: s} }

// Unmarshal implements encoding.CodecV2. The request is made contiguous
// once, for both the check and the decoding: a Score stream's request in
// its own buffer, which its records then refer into (receivedRequest.hold),
// any other in one of the transport's pool.
func (c limitCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return c.recordCodec.Unmarshal(data, v)
	}
	var b []byte
	if r, ok := v.(*receivedRequest); ok {
		b = r.hold(data)
	} else {
		buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
		defer buf.Free()
		b = buf.ReadOnlyData()
	}
	if err := c.s.checkWire(m, b); err != nil {
		c.s.refused.Store(v, err)
		return nil
	}
	if r, ok := v.(*receivedRequest); ok {
		r.wire = len(b)
	}
	return unmarshalRecords(b, m)
}

// Marshal implements encoding.CodecV2. A Score stream's response, a
// sequence and a few verdicts, is smaller than the 1 KiB below which the
// proto codec marshals into a slice of its own and boxes it, three
// allocations a response; it is marshalled here into a buffer of the
// server's pool (buffers) instead, which the transport gives back once
// written, and by hand when it has the usual shape (see
// scoreResponseSize).
func (c limitCodec) Marshal(v any) (mem.BufferSlice, error) {
	r, ok := v.(*iamsentryv1.ScoreResponse)
	if !ok {
		return c.recordCodec.Marshal(v)
	}
	size, byHand := scoreResponseSize(r)
	if !byHand {
		size = proto.Size(r)
	}
	var pool mem.BufferPool = &buffers
	// The pool hands out, and NewBuffer gives back, only buffers of at
	// least its pooling threshold: a smaller one would be a slice of its
	// own again.
	buf := pool.Get(max(size, minPooledBuffer))
	var b []byte
	var err error
	if byHand {
		b = appendScoreResponse((*buf)[:0], r)
	} else {
		b, err = proto.MarshalOptions{UseCachedSize: true}.MarshalAppend((*buf)[:0], r)
	}
	if err != nil || len(b) != size {
		pool.Put(buf)
		return c.recordCodec.Marshal(v)
	}
	*buf = b
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// minPooledBuffer is grpc-go's pooling threshold (mem.IsBelowBufferPoolingThreshold).
const minPooledBuffer = 1<<10 + 1

// checkWire checks the encoded request b of m's kind against its limits.
func (s *Server) checkWire(m proto.Message, b []byte) error {
	path := recordPaths[m.ProtoReflect().Descriptor().FullName()]
	switch m.(type) {
	case *iamsentryv1.ScoreRequest, *receivedRequest, *iamsentryv1.ScoreBatchRequest:
		if len(b) > s.opts.MaxRecvMsgSize {
			return s.sizeError(len(b))
		}
		return eventsError(countAt(b, path...), s.opts.MaxEventsPerRequest)
	case *collectorlogspb.ExportLogsServiceRequest:
		return s.ingestError(countAt(b, path...), "log records")
	case *vectorpb.PushEventsRequest:
		return s.ingestError(countAt(b, path...), "events")
	}
	return nil
}

func (s *Server) ingestError(n int, what string) error {
	if n > s.opts.MaxIngestRecords {
		return status.Errorf(codes.ResourceExhausted,
			"request carries %d %s; the limit is %d per request (send smaller batches, or raise the server's --ingest-max-records)",
			n, what, s.opts.MaxIngestRecords)
	}
	return nil
}

// refusal returns (and forgets) the status limitCodec kept for the
// request it left empty, if any.
func (s *Server) refusal(m any) error {
	if err, ok := s.refused.LoadAndDelete(m); ok {
		return err.(error)
	}
	return nil
}

// countAt counts the length-delimited fields at path in the encoded
// message b: the repeated field path[len(path)-1] of the messages at
// path[:len(path)-1]. Malformed input counts what it could read; decoding
// reports the fault.
func countAt(b []byte, path ...protowire.Number) int {
	n := 0
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return n
		}
		b = b[l:]
		if num != path[0] || typ != protowire.BytesType {
			l = protowire.ConsumeFieldValue(num, typ, b)
			if l < 0 {
				return n
			}
			b = b[l:]
			continue
		}
		v, l := protowire.ConsumeBytes(b)
		if l < 0 {
			return n
		}
		b = b[l:]
		if len(path) == 1 {
			n++
		} else {
			n += countAt(v, path[1:]...)
		}
	}
	return n
}
