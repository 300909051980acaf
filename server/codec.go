package server

import (
	"bytes"
	"fmt"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// recordCodec is the proto codec, except that one record a request cannot
// carry fails that record only. The proto codec fails a whole message on
// one string that is not UTF-8 or one value nested past its recursion
// limit, and gRPC turns that into INTERNAL: the OpenTelemetry exporter
// drops the batch (it does not retry INTERNAL) and a Score stream ends.
// When the whole message fails, a request that carries records is decoded
// again record by record; a record that fails keeps its bytes as unknown
// fields (see brokenRecord), so the handler answers it INVALID, counts it
// in OTLP's partial_success or Vector's rejections, and scores the rest.
// A request the fallback cannot split (broken framing) still fails.
type recordCodec struct{ encoding.CodecV2 }

func newRecordCodec() recordCodec { return recordCodec{encoding.GetCodecV2("proto")} }

// recordPaths are, per request type, the field numbers of the repeated
// message fields that lead from the request to its records.
var recordPaths = map[protoreflect.FullName][]protowire.Number{
	"opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest": {1, 2, 2}, // resource_logs, scope_logs, log_records
	"vector.PushEventsRequest":                                       {1},       // events
	"iamsentry.v1.ScoreRequest":                                      {1},       // events
	"iamsentry.v1.ScoreBatchRequest":                                 {1},       // events
}

// Unmarshal implements encoding.CodecV2.
func (c recordCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return c.CodecV2.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	return unmarshalRecords(buf.ReadOnlyData(), m)
}

// unmarshalRecords decodes b into m as the proto codec does, with the
// record-by-record fallback when the whole message fails.
func unmarshalRecords(b []byte, m proto.Message) error {
	switch r := m.(type) {
	case *iamsentryv1.ScoreRequest:
		if decodeScoreRequest(b, r, nil, false) {
			return nil
		}
	case *receivedRequest:
		if decodeScoreRequest(b, &r.ScoreRequest, &r.slabs, r.held(b)) {
			return nil
		}
	}
	err := proto.Unmarshal(b, m)
	if err == nil {
		return nil
	}
	path, ok := recordPaths[m.ProtoReflect().Descriptor().FullName()]
	if !ok {
		return err
	}
	proto.Reset(m)
	return splitRecords(b, m.ProtoReflect(), path)
}

// splitRecords decodes b into m, descending path: each element of the
// last field on it is decoded on its own. A field off the path that fails
// to decode is left out: it is metadata (a resource, a scope) no detector
// reads, and it must not cost the records their scoring.
func splitRecords(b []byte, m protoreflect.Message, path []protowire.Number) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		size := protowire.ConsumeFieldValue(num, typ, b[n:])
		if size < 0 {
			return protowire.ParseError(size)
		}
		field, value := b[:n+size], b[n:n+size]
		b = b[n+size:]
		if num != path[0] || typ != protowire.BytesType {
			_ = proto.UnmarshalOptions{Merge: true}.Unmarshal(field, m.Interface())
			continue
		}
		value, _ = protowire.ConsumeBytes(value)
		list := m.Mutable(m.Descriptor().Fields().ByNumber(num)).List()
		elem := list.NewElement()
		if len(path) > 1 {
			if err := splitRecords(value, elem.Message(), path[1:]); err != nil {
				return err
			}
		} else if proto.Unmarshal(value, elem.Message().Interface()) != nil {
			elem = list.NewElement()
			// SetUnknown keeps the slice it is given: a copy, since b is
			// the transport's pooled buffer, reused once decoding returns.
			elem.Message().SetUnknown(protoreflect.RawFields(bytes.Clone(value)))
		}
		list.Append(elem)
	}
	return nil
}

// brokenRecord returns why a record recordCodec could not decode cannot be
// read, or nil for a record that decoded. A record that decoded may hold
// unknown fields too (from a newer schema); those decode again.
func brokenRecord(m proto.Message) error {
	raw := m.ProtoReflect().GetUnknown()
	if len(raw) == 0 {
		return nil
	}
	if err := proto.Unmarshal(raw, m.ProtoReflect().New().Interface()); err != nil {
		return fmt.Errorf("record cannot be decoded from protobuf: %w", err)
	}
	return nil
}
