package server

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// scribblePool is a buffer pool that overwrites a buffer when it is given
// back, as its next user would.
type scribblePool struct{}

func (scribblePool) Get(n int) *[]byte { b := make([]byte, n); return &b }
func (scribblePool) Put(b *[]byte) {
	for i := range *b {
		(*b)[i] = 'x'
	}
}

// TestBrokenRecordOutlivesTheWireBuffer: gRPC hands the codec pooled
// buffers and reuses them once Unmarshal returns. A record that could not
// be decoded keeps its bytes (as unknown fields) until the handler gives
// its reason, so those bytes must be the record's own, not the pooled
// buffer's: after the buffer is reused the reason still names UTF-8.
func TestBrokenRecordOutlivesTheWireBuffer(t *testing.T) {
	const mark = "BAD-UTF8"
	bad := &iamsentryv1.Event{Record: &iamsentryv1.Event_Object{Object: &structpb.Struct{Fields: map[string]*structpb.Value{
		"eventName": structpb.NewStringValue(mark)}}}}
	// Buffers under 1 KiB are not pooled (mem.NewBuffer): the good record
	// makes each half of the request larger.
	goodJSON := `{"eventID":"e","userAgent":"` + strings.Repeat("a", 4<<10) + `"}`
	good := &iamsentryv1.Event{Record: &iamsentryv1.Event_Json{Json: []byte(goodJSON)}}
	wire, err := proto.Marshal(&iamsentryv1.ScoreRequest{Sequence: 1, Events: []*iamsentryv1.Event{bad, good}})
	if err != nil {
		t.Fatal(err)
	}
	wire = bytes.ReplaceAll(wire, []byte(mark), []byte("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"))
	for _, tc := range []struct {
		name  string
		codec interface {
			Unmarshal(mem.BufferSlice, any) error
		}
	}{
		{"recordCodec", newRecordCodec()},
		{"limitCodec", newLimitCodec(&Server{opts: Options{MaxRecvMsgSize: 1 << 20, MaxEventsPerRequest: 10}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, split := range []int{0, len(wire) / 2} { // one buffer, and two
				b := bytes.Clone(wire)
				data := mem.BufferSlice{mem.NewBuffer(&b, scribblePool{})}
				if split > 0 {
					first, second := bytes.Clone(wire[:split]), bytes.Clone(wire[split:])
					data = mem.BufferSlice{mem.NewBuffer(&first, scribblePool{}), mem.NewBuffer(&second, scribblePool{})}
				}
				var req iamsentryv1.ScoreRequest
				if err := tc.codec.Unmarshal(data, &req); err != nil {
					t.Fatalf("split %d: %v; want the bad record kept for its verdict", split, err)
				}
				data.Free() // gRPC is done with the buffers: the pool reuses them
				if n := len(req.GetEvents()); n != 2 {
					t.Fatalf("split %d: %d events; want 2", split, n)
				}
				if err := brokenRecord(req.GetEvents()[0]); err == nil || !strings.Contains(err.Error(), "UTF-8") {
					t.Errorf("split %d: reason %v after the wire buffer was reused; want the record's own (UTF-8)", split, err)
				}
				if raw, err := eventJSON(req.GetEvents()[1]); err != nil || string(raw) != goodJSON {
					t.Errorf("split %d: good record %.40q…, %v; want it unchanged", split, raw, err)
				}
			}
		})
	}
}
