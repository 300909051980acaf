// Package plugin is the cgo-free heart of the iamsentry Fluent Bit output
// plugin: it reads the configuration, decodes the msgpack chunks Fluent Bit
// hands over, turns records into CloudTrail JSON, scores them through the Go
// client library and decides what Fluent Bit should do with the chunk. The
// cgo exports in the module root only move bytes and pointers.
package plugin

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/ugorji/go/codec"
)

// Entry is one Fluent Bit log event: its time and its body. Fluent Bit's
// msgpack gives strings as []byte and maps as map[interface{}]interface{}.
type Entry struct {
	Time time.Time
	Body map[interface{}]interface{}
}

// eventTime is Fluent Bit's EventTime, msgpack extension type 0: seconds
// and nanoseconds, both big-endian uint32.
type eventTime struct{ time.Time }

func (eventTime) WriteExt(interface{}) []byte {
	panic("iamsentry: encoding EventTime is not supported")
}

func (eventTime) ReadExt(dst interface{}, b []byte) {
	if len(b) == 8 {
		dst.(*eventTime).Time = time.Unix(int64(binary.BigEndian.Uint32(b)), int64(binary.BigEndian.Uint32(b[4:])))
	}
}

func newHandle() *codec.MsgpackHandle {
	h := new(codec.MsgpackHandle)
	h.SetBytesExt(reflect.TypeOf(eventTime{}), 0, eventTime{})
	return h
}

// Decode splits a chunk into entries. Each event is [time, body] (Fluent
// Bit 1.x) or [[time, metadata], body] (the 2.x metadata envelope); time is
// an EventTime, an integer or a float of seconds. An event of another
// shape is reported in skipped and the rest of the chunk is still read; a
// chunk that is not msgpack at all is an error.
func Decode(data []byte) (entries []Entry, skipped []error, err error) {
	dec := codec.NewDecoderBytes(data, newHandle())
	for i := 0; dec.NumBytesRead() < len(data); i++ {
		var v interface{}
		if err := dec.Decode(&v); err != nil {
			return entries, skipped, fmt.Errorf("event %d: decoding msgpack: %w", i, err)
		}
		e, err := entry(v)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("event %d: %w", i, err))
			continue
		}
		entries = append(entries, e)
	}
	return entries, skipped, nil
}

func entry(v interface{}) (Entry, error) {
	pair, ok := v.([]interface{})
	if !ok || len(pair) != 2 {
		return Entry{}, fmt.Errorf("want [time, body], got %T", v)
	}
	head := pair[0]
	if meta, ok := head.([]interface{}); ok { // [[time, metadata], body]
		if len(meta) == 0 {
			return Entry{}, errors.New("empty metadata envelope")
		}
		head = meta[0]
	}
	body, ok := pair[1].(map[interface{}]interface{})
	if !ok {
		return Entry{}, fmt.Errorf("body is %T, want a map", pair[1])
	}
	return Entry{Time: timeOf(head), Body: body}, nil
}

func timeOf(v interface{}) time.Time {
	switch t := v.(type) {
	case eventTime:
		return t.Time
	case *eventTime:
		return t.Time
	case uint64:
		return time.Unix(int64(t), 0)
	case int64:
		return time.Unix(t, 0)
	case float64:
		return time.Unix(0, int64(t*1e9))
	}
	return time.Time{}
}
