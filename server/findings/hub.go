package findings

import (
	"sync"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// DefaultWatchBuffer is how many findings a slow watcher may fall behind
// before it loses the oldest.
const DefaultWatchBuffer = 1024

// Hub hands the findings and story updates that reach this replica to its
// watchers. It is
// safe for concurrent use.
type Hub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[*Subscription]struct{}{}} }

// Subscription is one watcher's view of a hub: the findings and story
// updates of one tenant that match its filter, each in a bounded buffer.
type Subscription struct {
	hub     *Hub
	tenant  string
	filter  Filter
	c       chan *iamsentryv1.Finding
	stories chan *iamsentryv1.Story // nil unless the filter takes stories
	mu      sync.Mutex              // guards dropped and the drop-oldest step on c and stories
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
	if filter.Stories {
		s.stories = make(chan *iamsentryv1.Story, buffer)
	}
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
		if s.tenant == tenant && !s.filter.NoFindings && s.filter.Match(f) {
			s.mu.Lock()
			offer(s.c, f, &s.dropped)
			s.mu.Unlock()
		}
	}
}

// DeliverStory hands st, a story update of tenant, to every subscription
// that takes story updates and matches it. It never blocks: a full
// subscription loses its oldest story update.
func (h *Hub) DeliverStory(tenant string, st *iamsentryv1.Story) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.tenant == tenant && s.filter.MatchStory(st) {
			s.mu.Lock()
			offer(s.stories, st, &s.dropped)
			s.mu.Unlock()
		}
	}
}

// offer puts v on c, dropping (and counting) the oldest values while c is
// full. The caller holds the subscription's mu.
func offer[T any](c chan T, v T, dropped *uint64) {
	for {
		select {
		case c <- v:
			return
		default:
		}
		select {
		case <-c:
			*dropped++
		default:
		}
	}
}

// C returns the channel findings arrive on.
func (s *Subscription) C() <-chan *iamsentryv1.Finding { return s.c }

// Stories returns the channel story updates arrive on; nil (never ready)
// unless the filter takes stories. A story update is delivered after the
// findings of the scoring that changed it, so a watcher that drains C
// before sending a story update keeps that order.
func (s *Subscription) Stories() <-chan *iamsentryv1.Story { return s.stories }

// Dropped returns how many findings and story updates were lost since the
// last call.
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
