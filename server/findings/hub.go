package findings

import (
	"sync"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// DefaultWatchBuffer is how many findings a slow watcher may fall behind
// before it loses the oldest.
const DefaultWatchBuffer = 1024

// Hub hands the findings that reach this replica to its watchers. It is
// safe for concurrent use.
type Hub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[*Subscription]struct{}{}} }

// Subscription is one watcher's view of a hub: the findings of one tenant
// that match its filter, in a bounded buffer.
type Subscription struct {
	hub     *Hub
	tenant  string
	filter  Filter
	c       chan *iamsentryv1.Finding
	mu      sync.Mutex // guards dropped and the drop-oldest step on c
	dropped uint64
}

// Subscribe registers a watcher of tenant's findings matching filter; buffer
// bounds how far it may fall behind (DefaultWatchBuffer when <= 0). Call
// Close when done.
func (h *Hub) Subscribe(tenant string, filter Filter, buffer int) *Subscription {
	if buffer <= 0 {
		buffer = DefaultWatchBuffer
	}
	s := &Subscription{hub: h, tenant: tenant, filter: filter, c: make(chan *iamsentryv1.Finding, buffer)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Watchers returns how many subscriptions are open.
func (h *Hub) Watchers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Deliver hands f, a finding of tenant, to every matching subscription. It
// never blocks: a full subscription loses its oldest finding.
func (h *Hub) Deliver(tenant string, f *iamsentryv1.Finding) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.tenant == tenant && s.filter.Match(f) {
			s.offer(f)
		}
	}
}

func (s *Subscription) offer(f *iamsentryv1.Finding) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		select {
		case s.c <- f:
			return
		default:
		}
		select {
		case <-s.c:
			s.dropped++
		default:
		}
	}
}

// C returns the channel findings arrive on.
func (s *Subscription) C() <-chan *iamsentryv1.Finding { return s.c }

// Dropped returns how many findings were lost since the last call.
func (s *Subscription) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.dropped
	s.dropped = 0
	return n
}

// Close unregisters the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	delete(s.hub.subs, s)
	s.hub.mu.Unlock()
}
