package builtin

import (
	"sync/atomic"
	"time"
)

// windowIDLayout is how window.ID renders a window's start.
const windowIDLayout = "20060102T150405Z"

// windowIDs remembers the rendering of recent window starts: windows are
// aligned, so the records of a batch share a handful of starts, and
// formatting one for every state key cost an allocation each time. It is a
// bounded, lock-free, direct-mapped cache of a pure function of the time;
// an entry is immutable once stored.
var windowIDs windowIDCache

type windowIDCache struct {
	slots [256]atomic.Pointer[windowIDEntry]
}

type windowIDEntry struct {
	unix int64 // whole seconds: the layout shows no fraction
	id   string
}

// id returns t.Format(windowIDLayout).
func (c *windowIDCache) id(t time.Time) string {
	if t.Location() != time.UTC {
		return t.Format(windowIDLayout) // the layout renders t's own zone's clock
	}
	sec := t.Unix()
	slot := &c.slots[uint64(sec)*0x9E3779B97F4A7C15>>56]
	if e := slot.Load(); e != nil && e.unix == sec {
		return e.id
	}
	id := t.Format(windowIDLayout)
	slot.Store(&windowIDEntry{unix: sec, id: id})
	return id
}
