package plugin_test

import (
	"encoding/binary"
	"reflect"
	"testing"
	"time"

	"github.com/ugorji/go/codec"
)

// flbTime encodes Fluent Bit's EventTime (msgpack ext 0), as Fluent Bit
// writes it into chunks.
type flbTime struct{ time.Time }

func (flbTime) WriteExt(v interface{}) []byte {
	t := v.(*flbTime)
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, uint32(t.Unix()))
	binary.BigEndian.PutUint32(b[4:], uint32(t.Nanosecond()))
	return b
}

func (flbTime) ReadExt(interface{}, []byte) { panic("not used") }

// chunk encodes events the way Fluent Bit hands them to an output: one
// msgpack value after another, strings as msgpack str.
func chunk(t *testing.T, events ...interface{}) []byte {
	t.Helper()
	h := &codec.MsgpackHandle{WriteExt: true}
	h.SetBytesExt(reflect.TypeOf(flbTime{}), 0, flbTime{})
	var out []byte
	enc := codec.NewEncoderBytes(&out, h)
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

var at = time.Date(2024, 8, 1, 13, 0, 0, 500, time.UTC)

// event is [EventTime, body], Fluent Bit 1.x.
func event(body map[string]interface{}) []interface{} {
	return []interface{}{&flbTime{at}, body}
}

// eventV2 is [[EventTime, metadata], body], Fluent Bit 2.x and later.
func eventV2(body map[string]interface{}) []interface{} {
	return []interface{}{[]interface{}{&flbTime{at}, map[string]interface{}{}}, body}
}
