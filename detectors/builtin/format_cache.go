package builtin

import (
	"sync/atomic"
	"time"
)

// windowIDLayout is how window.ID renders a window's start.
const windowIDLayout = "20060102T150405Z"

// windowIDs and habitHours remember the rendering of recent aligned times
// (window starts, the hours recon learns habits by): the records of a
// batch share a handful, and formatting one for every state key and member
// cost an allocation each time.
var (
	windowIDs  = formatCache{layout: windowIDLayout}
	habitHours = formatCache{layout: "20060102T15Z"}
)

// formatCache is a bounded, lock-free, direct-mapped cache of
// prefix+t.Format(layout), a pure function of the time; an entry is
// immutable once stored.
type formatCache struct {
	prefix string // rendered before the time: a state key's name, say
	layout string
	slots  [256]atomic.Pointer[formatEntry]
}

type formatEntry struct {
	unix int64 // whole seconds: the layout shows no fraction
	id   string
}

// format returns c.prefix+t.Format(c.layout), for a layout without
// fractions of a second.
func (c *formatCache) format(t time.Time) string {
	if t.Location() != time.UTC {
		return c.prefix + t.Format(c.layout) // the layout renders t's own zone's clock
	}
	sec := t.Unix()
	slot := &c.slots[uint64(sec)*0x9E3779B97F4A7C15>>56]
	if e := slot.Load(); e != nil && e.unix == sec {
		return e.id
	}
	id := c.prefix + t.Format(c.layout)
	slot.Store(&formatEntry{unix: sec, id: id})
	return id
}
