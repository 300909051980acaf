package memory

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// shard is one lock and the entries it guards.
type shard struct {
	mu   sync.Mutex
	m    map[state.Key]*entry
	peak int      // most entries m held since it was last rebuilt
	_    [40]byte // keep neighbouring shards' locks off one cache line
}

// kind is what an entry holds. A key holds one kind at a time, like a Redis
// key holds one type; using it as another is an error, not a silent reset.
type kind uint8

const (
	kindValue kind = iota + 1 // Put, Claim, Get
	kindThrottle
	kindMark
	kindWindow
	kindNovelty
	kindBuckets
)

var kindNames = [...]string{"", "value", "throttle", "mark", "window", "novelty set", "buckets"}

func (k kind) String() string { return kindNames[k] }

// entry is the state under one key. Times are Unix nanoseconds: wall-clock
// for expires, event time for everything else.
// introduction records which owner's add made a novelty member new, and
// when (wall clock, ns).
type introduction struct {
	owner string
	when  int64
}

type entry struct {
	kind    kind
	expires int64
	value   []byte                        // value; throttle owner
	mark    int64                         // mark
	oldest  int64                         // no member (bucket start) is older: a lower bound
	members map[string]int64              // window, novelty: member → latest event time
	intro   map[string]introduction       // novelty: who made a member new, for retries
	buckets map[int64]map[string]struct{} // bucket start → distinct members
}

func newEntry(k kind) *entry {
	e := &entry{kind: k}
	switch k {
	case kindWindow, kindNovelty:
		e.members, e.oldest = make(map[string]int64), math.MaxInt64
	case kindBuckets:
		e.buckets, e.oldest = make(map[int64]map[string]struct{}), math.MaxInt64
	}
	return e
}

// live returns the unexpired entry under k, or nil. An expired entry found
// on the way is reclaimed at once rather than left for the janitor.
func (sh *shard) live(k state.Key, want kind, now int64) (*entry, error) {
	e := sh.m[k]
	if e == nil {
		return nil, nil
	}
	if e.expires <= now {
		delete(sh.m, k)
		return nil, nil
	}
	if want != 0 && e.kind != want {
		return nil, fmt.Errorf("memory: key %s holds a %s, not a %s", k, e.kind, want)
	}
	return e, nil
}

// upsert returns the live entry of kind want under k, creating it when
// absent, and restarts its TTL: every write does.
func (sh *shard) upsert(k state.Key, want kind, now int64, ttl time.Duration) (e *entry, created bool, err error) {
	e, err = sh.live(k, want, now)
	if err != nil {
		return nil, false, err
	}
	if e == nil {
		e, created = newEntry(want), true
		sh.insert(k, e)
	}
	e.expires = now + int64(ttl)
	return e, created, nil
}

// insert stores e under a copy of k. The copy matters: a caller's key
// strings may be slices of a large record, which the map would pin.
func (sh *shard) insert(k state.Key, e *entry) {
	k = state.Key{Tenant: strings.Clone(k.Tenant), Identity: strings.Clone(k.Identity), Name: strings.Clone(k.Name)}
	sh.m[k] = e
	sh.peak = max(sh.peak, len(sh.m))
}

// sweep deletes expired entries. Go maps never shrink, so a map that lost
// most of its peak is rebuilt: reclaimed keys give their memory back too.
func (sh *shard) sweep(now int64) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for k, e := range sh.m {
		if e.expires <= now {
			delete(sh.m, k)
		}
	}
	if sh.peak > 1024 && len(sh.m) < sh.peak/4 {
		m := make(map[state.Key]*entry, len(sh.m))
		for k, e := range sh.m {
			m[k] = e
		}
		sh.m, sh.peak = m, len(m)
	}
}

// addMember records member at event time at, keeping the latest time seen.
func (e *entry) addMember(member string, at int64) {
	prev, ok := e.members[member]
	if !ok {
		e.members[strings.Clone(member)] = at
	} else if at > prev {
		e.members[member] = at
	}
	e.oldest = min(e.oldest, at)
}

// trim drops members older than cutoff. The oldest bound lets most calls
// return without scanning: only when the cutoff passes it can a member be
// due, and the scan then tightens the bound again.
func (e *entry) trim(cutoff int64) {
	if cutoff <= e.oldest {
		return
	}
	oldest := int64(math.MaxInt64)
	for m, t := range e.members {
		if t < cutoff {
			delete(e.members, m)
		} else {
			oldest = min(oldest, t)
		}
	}
	e.oldest = oldest
}

// addToBucket adds member to the bucket starting at start.
func (e *entry) addToBucket(start int64, member string) {
	set := e.buckets[start]
	if set == nil {
		set = make(map[string]struct{})
		e.buckets[start] = set
	}
	if _, ok := set[member]; !ok {
		set[strings.Clone(member)] = struct{}{}
	}
	e.oldest = min(e.oldest, start)
}

// trimBuckets drops the buckets of width w that ended by cutoff, skipping
// the scan while the oldest bound shows none did.
func (e *entry) trimBuckets(cutoff, w int64) {
	if e.oldest > cutoff-w {
		return
	}
	oldest := int64(math.MaxInt64)
	for b := range e.buckets {
		if b+w <= cutoff {
			delete(e.buckets, b)
		} else {
			oldest = min(oldest, b)
		}
	}
	e.oldest = oldest
}

// history returns the member counts of the n buckets of width w ending with
// the one starting at last, oldest first.
func (e *entry) history(last, w int64, n int) []int {
	out := make([]int, n)
	if e == nil {
		return out
	}
	for i := range out {
		out[i] = len(e.buckets[last-int64(n-1-i)*w])
	}
	return out
}

// clone copies b into memory the store owns. It never returns nil, so an
// empty value stays distinguishable from an absent one.
func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}

func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }
