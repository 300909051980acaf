package builtin

import (
	"strconv"
	"sync/atomic"
)

// asnNumbers and asnNames remember the rendering of the ASNs a batch's
// sources share ("3320", "ASN 3320"): detectors name an event's network by
// its ASN on every call they place, and rendering it allocated each time.
var (
	asnNumbers = uintMemo{}
	asnNames   = uintMemo{prefix: "ASN "}
)

// uintMemo is a bounded, lock-free, direct-mapped cache of prefix and the
// decimal of a number, a pure function of it; an entry is immutable once
// stored.
type uintMemo struct {
	prefix string
	slots  [512]atomic.Pointer[uintEntry]
}

type uintEntry struct {
	n    uint32
	text string
}

// get returns m.prefix + strconv.FormatUint(n, 10).
func (m *uintMemo) get(n uint32) string {
	slot := &m.slots[uint64(n)*0x9E3779B97F4A7C15>>55]
	if e := slot.Load(); e != nil && e.n == n {
		return e.text
	}
	text := m.prefix + strconv.FormatUint(uint64(n), 10)
	slot.Store(&uintEntry{n: n, text: text})
	return text
}
