package server

import (
	"strings"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/internal/allocstest"
)

func jsonEvent(s string) *iamsentryv1.Event {
	return &iamsentryv1.Event{Record: &iamsentryv1.Event_Json{Json: []byte(s)}}
}

// scoreWireSeeds are requests of every shape: those the fast path takes
// and those it must hand to the generic decoder.
func scoreWireSeeds(t testing.TB) [][]byte {
	obj, err := structpb.NewStruct(map[string]any{"eventName": "ListBuckets"})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range []*iamsentryv1.ScoreRequest{
		{},
		{Sequence: 7},
		{Sequence: 1 << 40, Learn: true, Events: []*iamsentryv1.Event{jsonEvent(`{"eventID":"a"}`)}},
		{Sequence: 2, Events: []*iamsentryv1.Event{jsonEvent(`{"eventID":"a"}`), {}, jsonEvent(""), jsonEvent(`{"eventID":"\xff"}`)}},
		{Events: []*iamsentryv1.Event{jsonEvent(`{}`), {Record: &iamsentryv1.Event_Object{Object: obj}}}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	// A sequence given twice, an unknown field, an event with an unknown
	// field, broken framing.
	twice := protowire.AppendVarint(protowire.AppendTag(out[2], 2, protowire.VarintType), 9)
	unknown := protowire.AppendString(protowire.AppendTag(out[2], 9, protowire.BytesType), "x")
	ev := protowire.AppendVarint(protowire.AppendTag(protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte("{}")), 5, protowire.VarintType), 1)
	oddEvent := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), ev)
	return append(out, twice, unknown, oddEvent, out[3][:len(out[3])-3], []byte{0x0a, 0xff})
}

// checkScoreWire: where the fast path takes b, it decodes exactly what the
// generic decoder does.
func checkScoreWire(t *testing.T, b []byte) (took bool) {
	var fast, generic iamsentryv1.ScoreRequest
	if !decodeScoreRequest(b, &fast, nil, false) {
		if !proto.Equal(&fast, &iamsentryv1.ScoreRequest{}) {
			t.Errorf("declined %x but changed the message: %v", b, &fast)
		}
		return false
	}
	if err := proto.Unmarshal(b, &generic); err != nil {
		t.Fatalf("fast path took %x, which the generic decoder refuses: %v", b, err)
	}
	if !proto.Equal(&fast, &generic) {
		t.Errorf("fast path decoded %x as %v, the generic decoder as %v", b, &fast, &generic)
	}
	// A request a stream reuses decodes the same, whatever it held before
	// (more events, fewer, or longer records), and so does one decoded
	// from its own copy of the bytes, as a stream receives it.
	for _, before := range reuseSeeds {
		for _, held := range []bool{false, true} {
			var r receivedRequest
			if !decodeScoreRequest(before, &r.ScoreRequest, &r.slabs, false) {
				t.Fatalf("seed %x not taken", before)
			}
			requestFreeList(nil).put(&r) // emptied as a stream's free list empties it
			in := b
			if held {
				in = r.hold(mem.BufferSlice{mem.SliceBuffer(b[:len(b)/2]), mem.SliceBuffer(b[len(b)/2:])})
				if len(b) > 0 && !r.held(in) {
					t.Fatal("hold's buffer not recognised as held")
				}
			}
			if !decodeScoreRequest(in, &r.ScoreRequest, &r.slabs, held) {
				t.Fatalf("fast path took %x into a new request but not into a reused one (held %v)", b, held)
			}
			if !proto.Equal(&r.ScoreRequest, &generic) {
				t.Errorf("fast path decoded %x into a reused request (held %v) as %v, the generic decoder as %v", b, held, &r.ScoreRequest, &generic)
			}
		}
	}
	return true
}

// reuseSeeds are requests decoded into a request before it is reused.
var reuseSeeds = func() (out [][]byte) {
	long := jsonEvent(`{"eventID":"` + strings.Repeat("x", 300) + `"}`)
	for _, m := range []*iamsentryv1.ScoreRequest{
		{Sequence: 9, Learn: true, Events: []*iamsentryv1.Event{long, long, {}, long}},
		{Events: []*iamsentryv1.Event{jsonEvent(`{}`)}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}()

func TestDecodeScoreRequestMatchesProto(t *testing.T) {
	took := 0
	for _, b := range scoreWireSeeds(t) {
		if checkScoreWire(t, b) {
			took++
		}
	}
	// The first four seeds are the shipper's shape, and so is a sequence
	// given twice (the last wins, as in proto); the rest are not.
	if took != 5 {
		t.Errorf("fast path took %d seeds, want the 5 of json events only", took)
	}
}

func FuzzDecodeScoreRequest(f *testing.F) {
	for _, b := range scoreWireSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkScoreWire(t, b) })
}

// TestDecodeScoreRequestAllocs: a request costs a fixed number of
// allocations, whatever the number of events in it (a count, not a time).
func TestDecodeScoreRequestAllocs(t *testing.T) {
	b := encodedRequest(t, 100)
	allocs := allocstest.Floor(20, func() {
		var m iamsentryv1.ScoreRequest
		if !decodeScoreRequest(b, &m, nil, false) || len(m.Events) != 100 {
			t.Fatal("not decoded")
		}
	})
	if allocs > 5 { // events, wrappers, pointers, bytes; and the message in the closure
		t.Errorf("%v allocations for a 100-event request, want at most 5", allocs)
	}
}

// TestDecodeReusedRequestAllocs: a request read into one a stream answered
// before, with no more events and bytes than it held, allocates nothing,
// whether its records are copied out or refer into its own copy.
func TestDecodeReusedRequestAllocs(t *testing.T) {
	b := encodedRequest(t, 3)
	wire := mem.BufferSlice{mem.SliceBuffer(b[:10]), mem.SliceBuffer(b[10:])}
	free := newRequestFreeList()
	free.put(new(receivedRequest))
	allocs := allocstest.Floor(20, func() {
		r := free.get()
		if !decodeScoreRequest(b, &r.ScoreRequest, &r.slabs, false) || len(r.Events) != 3 {
			t.Fatal("not decoded")
		}
		free.put(r)
		r = free.get()
		if h := r.hold(wire); !decodeScoreRequest(h, &r.ScoreRequest, &r.slabs, r.held(h)) || len(r.Events) != 3 {
			t.Fatal("not decoded")
		}
		free.put(r)
	})
	if allocs != 0 {
		t.Errorf("%v allocations for a request read into a reused one, want 0", allocs)
	}
}

// encodedRequest is a request of n small json events, encoded.
func encodedRequest(t *testing.T, n int) []byte {
	req := &iamsentryv1.ScoreRequest{Sequence: 3}
	for range n {
		req.Events = append(req.Events, jsonEvent(`{"eventID":"e","eventName":"ListBuckets"}`))
	}
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
