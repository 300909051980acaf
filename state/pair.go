package state

import (
	"strings"
	"sync"
)

// halfNames remembers the names of the halves of window pairs (see
// PairHalf): a store that keeps the halves apart names both for every
// pair operation, and the pairs are a few names a detector chose, so the
// concatenations are made once each rather than twice an operation.
type halfNames struct {
	mu sync.RWMutex
	m  map[string]*[2]string
}

// maxHalfNames bounds the names halfNames keeps: past it a pair's halves
// are named afresh each time, so unexpected names cannot grow it.
const maxHalfNames = 64

var pairHalfNames halfNames

// of returns the names of the halves of the pair name.
func (h *halfNames) of(name string) *[2]string {
	h.mu.RLock()
	v := h.m[name]
	h.mu.RUnlock()
	if v != nil {
		return v
	}
	v = &[2]string{name + ":0", name + ":1"}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[string]*[2]string)
	}
	if len(h.m) < maxHalfNames {
		h.m[strings.Clone(name)] = v
	}
	return v
}
