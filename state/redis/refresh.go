package redis

import (
	"sync"
	"time"
)

// A write's only effect is often to push its key's expiry a little further
// out: a first-seen mark or a novelty set of 90 days, written by every
// event of an identity. The group script skips that PEXPIRE when this
// replica set the key's TTL less than a refresh period ago and the key
// existed before the group (so it still has that TTL; every key the store
// writes has one). A key then expires no sooner than TTL − TTL/refreshDivisor
// after its last write, and exactly TTL after it when its TTL is short.
const (
	// minRefreshTTL is the shortest TTL whose refresh may be skipped:
	// keys of shorter TTLs (a dedupe horizon, a sequence window) are
	// refreshed by every write.
	minRefreshTTL = time.Hour
	// refreshDivisor sets the refresh period: TTL/16, so at most a
	// sixteenth of a TTL is lost (5.6 days of a 90-day first-seen mark).
	refreshDivisor = 16
	// maxRefreshEntries bounds the memory of refreshes: past it, the
	// replica forgets them all and refreshes every key once more.
	maxRefreshEntries = 1 << 17
)

// refreshes remembers when this replica last set each key's TTL.
type refreshes struct {
	mu sync.Mutex
	at map[string]time.Time
}

// fresh reports whether key's TTL of ttl was set by this replica less
// than a refresh period before now.
func (r *refreshes) fresh(key string, ttl time.Duration, now time.Time) bool {
	if ttl < minRefreshTTL {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.at[key]
	return ok && now.Sub(at) < ttl/refreshDivisor
}

// record notes that the keys' TTLs were set at (or after) at.
func (r *refreshes) record(keys []string, at time.Time) {
	if len(keys) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil || len(r.at)+len(keys) > maxRefreshEntries {
		r.at = make(map[string]time.Time)
	}
	for _, k := range keys {
		r.at[k] = at
	}
}
