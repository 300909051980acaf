package server

import (
	"google.golang.org/protobuf/encoding/protowire"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// decodeScoreRequest decodes b, an encoded ScoreRequest, into m the way
// proto.Unmarshal would, for the shape every shipper
// sends: events that each carry their record as json bytes, a sequence and
// the learn flag. It costs four allocations per request instead of three
// per event (the event, its oneof wrapper and a copy of its bytes): the
// events, their wrappers and the records' bytes are each one block.
//
// slabs, when not nil, holds the blocks of an earlier request that is
// done with (see receivedRequest): they are reused when large enough, so
// a stream's requests of a few events cost no allocation at all.
//
// The records are copied out of b into one block, since b is usually the
// transport's pooled buffer; when held is true, b is the slabs' own (see
// receivedRequest.hold) and lives as long as m, and the records refer
// into it instead: no second copy of every record.
//
// It returns false, leaving m untouched, for anything else (an object
// record, a field it does not know, an event with more than its json
// field, broken framing):
// the generic decoder handles those, with their errors and fallbacks.
func decodeScoreRequest(b []byte, m *iamsentryv1.ScoreRequest, slabs *eventSlabs, held bool) bool {
	var seq uint64
	var learn bool
	n, size := 0, 0
	for rest := b; len(rest) > 0; {
		num, typ, l := protowire.ConsumeTag(rest)
		if l < 0 {
			return false
		}
		rest = rest[l:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, l := protowire.ConsumeBytes(rest)
			if l < 0 {
				return false
			}
			rest = rest[l:]
			j, _, ok := eventJSONField(v)
			if !ok {
				return false
			}
			n++
			size += len(j)
		case (num == 2 || num == 3) && typ == protowire.VarintType:
			x, l := protowire.ConsumeVarint(rest)
			if l < 0 {
				return false
			}
			rest = rest[l:]
			if num == 2 {
				seq = x
			} else {
				learn = protowire.DecodeBool(x)
			}
		default:
			return false
		}
	}
	m.Reset()
	m.Sequence, m.Learn = seq, learn
	if n == 0 {
		return true
	}
	if slabs == nil {
		slabs = new(eventSlabs)
	}
	events, wrappers := slabs.take(n)
	var data []byte
	if !held {
		data = slabs.buffer(size)
	}
	m.Events = slabs.ptrs[:n]
	i := 0
	for rest := b; len(rest) > 0; {
		num, _, l := protowire.ConsumeTag(rest) // checked in the first pass
		rest = rest[l:]
		if num != 1 {
			_, l = protowire.ConsumeVarint(rest)
			rest = rest[l:]
			continue
		}
		v, l := protowire.ConsumeBytes(rest)
		rest = rest[l:]
		j, has, _ := eventJSONField(v)
		if has {
			if !held {
				start := len(data)
				data = append(data, j...)
				j = data[start:len(data)]
			}
			wrappers[i].Json = j[:len(j):len(j)]
			events[i].Record = &wrappers[i]
		}
		m.Events[i] = &events[i]
		i++
	}
	return true
}

// eventJSONField reads an encoded Event that is empty or holds only its
// json field, once. has says whether the field was there; ok is false for
// any other content.
func eventJSONField(b []byte) (json []byte, has, ok bool) {
	if len(b) == 0 {
		return nil, false, true
	}
	num, typ, l := protowire.ConsumeTag(b)
	if l < 0 || num != 1 || typ != protowire.BytesType {
		return nil, false, false
	}
	v, l2 := protowire.ConsumeBytes(b[l:])
	if l2 < 0 || l+l2 != len(b) {
		return nil, false, false
	}
	return v, true, true
}

// eventSlabs are the blocks decodeScoreRequest decodes a request's events
// into: the events, their oneof wrappers, the pointers to the events the
// message holds, and the records' bytes: the request as received (see
// receivedRequest.hold), or the records copied out of the transport's
// pooled buffer.
type eventSlabs struct {
	events   []iamsentryv1.Event
	wrappers []iamsentryv1.Event_Json
	ptrs     []*iamsentryv1.Event
	data     []byte
}

// take returns zeroed blocks for n events, reusing the slabs' blocks
// where they are large enough, and keeps what it made for the next
// request.
func (s *eventSlabs) take(n int) ([]iamsentryv1.Event, []iamsentryv1.Event_Json) {
	if cap(s.events) < n {
		s.events, s.wrappers, s.ptrs = make([]iamsentryv1.Event, n), make([]iamsentryv1.Event_Json, n), make([]*iamsentryv1.Event, n)
	}
	events, wrappers := s.events[:n], s.wrappers[:n]
	clear(events) // an event's message state, too, starts over
	clear(wrappers)
	return events, wrappers
}

// buffer returns an empty buffer for size bytes of records, the slabs'
// own when it is large enough.
func (s *eventSlabs) buffer(size int) []byte {
	if cap(s.data) < size {
		s.data = make([]byte, 0, size)
	}
	return s.data[:0]
}
