package geoip

import (
	"sync/atomic"

	maxminddb "github.com/oschwald/maxminddb-golang/v2"
)

// decodeCache remembers the records of one database decoded at recent data
// offsets. Every source address of a network shares its record, and
// decoding one (reflection, and a fresh copy of its strings) cost more
// than finding it. The offset names the record within one opened
// database, so a cache lives and dies with its DB.
//
// It is bounded (decodeSlots entries), direct-mapped (a colliding offset
// replaces the entry) and safe for concurrent use without locks: an entry
// is immutable once stored.
type decodeCache[T any] struct {
	slots [decodeSlots]atomic.Pointer[decoded[T]]
}

const decodeSlots = 1024 // a power of two

type decoded[T any] struct {
	offset uintptr
	rec    T
	err    error
}

// decode returns what res.Decode would decode into a zero T, and its
// error.
func (c *decodeCache[T]) decode(res maxminddb.Result) (T, error) {
	if !res.Found() { // not found, or a failed lookup: nothing to share
		return decodeNew[T](res)
	}
	off := res.Offset()
	slot := &c.slots[uint64(off)*0x9E3779B97F4A7C15>>(64-10)]
	if e := slot.Load(); e != nil && e.offset == off {
		return e.rec, e.err
	}
	e := &decoded[T]{offset: off}
	e.err = res.Decode(&e.rec) // straight into the entry: one allocation
	slot.Store(e)
	return e.rec, e.err
}

// decodeNew decodes res into a new T. The T escapes (Decode takes any),
// so it is declared only where a record is decoded.
func decodeNew[T any](res maxminddb.Result) (T, error) {
	var rec T
	err := res.Decode(&rec)
	return rec, err
}
