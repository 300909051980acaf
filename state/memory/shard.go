package memory

import (
	"fmt"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/iamsentry/iamsentry/state"
)

// shard is one lock and the identities it guards, in least-recently-used
// order. Every key of one (tenant, identity) lives in one group on one
// shard, so an identity is evicted whole: a detector never reads half of
// one.
type shard struct {
	mu      sync.Mutex
	tenants map[unique.Handle[string]]map[string]*group // tenant → identity → group; no empty maps
	groups  int                                         // groups in every tenant's map
	lru     group                                       // sentinel: lru.next is the most recently used group, lru.prev the least
	bytes   int64                                       // accounted bytes of every group (see cost.go)
	budget  int64                                       // most accounted bytes before eviction; 0: no budget
	keys    int                                         // entries in every group, expired ones included until reclaimed
	evicted int64                                       // groups evicted to keep within budget
	peak    int                                         // most groups the maps held since they were last rebuilt

	// last is the last tenant looked up: a scorer serves one tenant or a
	// few, so most operations find their tenant's map here and skip
	// interning the tenant and a lookup by it.
	last struct {
		tenant string
		handle unique.Handle[string]
		groups map[string]*group // nil: none cached
	}

	// recent are the groups looked up or created last, most recent
	// first: three operations in four on the realistic corpus are on an
	// identity one of the shard's last few operations was on (a
	// detector's reads and writes of one event, the next detector's of
	// the same identity), and comparing a few strings costs less than a
	// map lookup. One slot was not enough: every event's dedupe claim
	// creates a group of its own, which took the slot from the identity
	// the event's detectors work on. nil slots hold nothing.
	recent [recentGroups]*group
}

// recentGroups is how many groups a shard remembers as recent.
const recentGroups = 4

// groupKey names an identity of a tenant. The tenant is interned: tenants
// are few and would otherwise be copied into every identity. Identities
// are mapped by tenant, then by identity alone: a string key hashes faster
// than a struct and takes fewer bytes per identity.
type groupKey struct {
	tenant   unique.Handle[string]
	identity string
}

// group is the state of one identity: its entries, each under a name, and
// its place in the shard's recency list. Most identities hold a handful of
// names, and a slice searched in order beats a map in both time and bytes;
// a few hold thousands (a name per policy or per target), and past
// manyEntries an index finds a name without the scan.
type group struct {
	key        groupKey
	entries    []*entry
	index      map[string]int32 // name → position in entries, past manyEntries; never shrinks
	bytes      int64            // accounted bytes of the group, entries included
	prev, next *group
}

// single is a new identity's group allocated with its first entry: the
// group a dedupe claim creates (an event id's, a fifth of the operations
// on the realistic corpus) holds that claim alone until it expires, and
// one allocation for the two costs less than two. The two fill a size
// class exactly (208 bytes); the entries slot stays apart, as inlining it
// would round the allocation up to the next class. Accounted bytes are
// those of the two allocated apart. Should the entry later leave a group
// that lives on, the group keeps its memory until it is dropped: one entry
// at most per group.
type single struct {
	g group
	e entry
}

// manyEntries is how many entries a group scans before it keeps an index.
const manyEntries = 16

func (sh *shard) init(budget int64) {
	sh.tenants = make(map[unique.Handle[string]]map[string]*group)
	sh.lru.prev, sh.lru.next = &sh.lru, &sh.lru
	sh.budget = budget
}

// touch moves g to the front of the recency list: it was just used.
func (sh *shard) touch(g *group) {
	if sh.lru.next == g {
		return
	}
	g.prev.next, g.next.prev = g.next, g.prev
	g.prev, g.next = &sh.lru, sh.lru.next
	sh.lru.next.prev = g
	sh.lru.next = g
}

// identities returns the groups of tenant and makes it the cached one. It
// returns nil when the tenant has none and create is false.
func (sh *shard) identities(tenant string, create bool) map[string]*group {
	if sh.last.groups != nil && sh.last.tenant == tenant {
		return sh.last.groups
	}
	h := unique.Make(tenant)
	m := sh.tenants[h]
	if m == nil {
		if !create {
			return nil
		}
		m = make(map[string]*group)
		sh.tenants[h] = m
	}
	sh.last.tenant, sh.last.handle, sh.last.groups = strings.Clone(tenant), h, m
	return m
}

// group returns k's identity, touched, or nil when it holds nothing.
func (sh *shard) group(k state.Key) *group {
	g := sh.cached(k)
	if g == nil {
		g = sh.identities(k.Tenant, false)[k.Identity]
		if g == nil {
			return nil
		}
		sh.remember(g)
	}
	sh.touch(g)
	return g
}

// cached returns k's identity when it is among the recent groups, moved
// to the front of them; nil otherwise.
func (sh *shard) cached(k state.Key) *group {
	for i, g := range sh.recent {
		if g == nil {
			return nil // slots fill from the front
		}
		if g.key.identity == k.Identity && g.key.tenant.Value() == k.Tenant {
			copy(sh.recent[1:i+1], sh.recent[:i])
			sh.recent[0] = g
			return g
		}
	}
	return nil
}

// remember makes g the most recent group, forgetting the least recent.
func (sh *shard) remember(g *group) {
	copy(sh.recent[1:], sh.recent[:len(sh.recent)-1])
	sh.recent[0] = g
}

// forget removes g from the recent groups, keeping the others in order
// and the free slots at the back.
func (sh *shard) forget(g *group) {
	for i, r := range sh.recent {
		if r == g {
			copy(sh.recent[i:], sh.recent[i+1:])
			sh.recent[len(sh.recent)-1] = nil
			return
		}
	}
}

// create returns a new group for k's identity, which holds nothing: the
// caller just looked it up. The group is stored under a copy of the
// identity: a caller's strings may be slices of a large record, which the
// map would pin.
func (sh *shard) create(k state.Key) *group {
	return sh.adopt(k, new(group))
}

// adopt is create with the group's memory given: g is zero but for its
// entries' backing array, which it may already have (see single).
func (sh *shard) adopt(k state.Key, g *group) *group {
	m := sh.identities(k.Tenant, true)
	g.key = groupKey{tenant: sh.last.handle, identity: strings.Clone(k.Identity)}
	gk := g.key
	g.prev, g.next = &sh.lru, sh.lru.next
	sh.lru.next.prev = g
	sh.lru.next = g
	m[gk.identity] = g
	sh.remember(g)
	sh.groups++
	sh.peak = max(sh.peak, sh.groups)
	sh.account(g, g.cost())
	return g
}

// account adds d bytes to g and to the shard.
func (sh *shard) account(g *group, d int64) {
	g.bytes += d
	sh.bytes += d
}

// drop removes g and everything it holds.
func (sh *shard) drop(g *group) {
	g.prev.next, g.next.prev = g.next, g.prev
	g.prev, g.next = nil, nil
	m := sh.tenants[g.key.tenant]
	delete(m, g.key.identity)
	if len(m) == 0 {
		delete(sh.tenants, g.key.tenant)
		if sh.last.handle == g.key.tenant {
			sh.last.groups = nil
		}
	}
	sh.groups--
	sh.forget(g)
	sh.bytes -= g.bytes
	sh.keys -= len(g.entries)
}

// evict drops least recently used identities until the shard is within its
// budget, sparing keep, the identity the current operation works on: a
// single identity larger than the budget stays until another one is used.
func (sh *shard) evict(keep *group) {
	for sh.budget > 0 && sh.bytes > sh.budget {
		g := sh.lru.prev
		if g == &sh.lru || g == keep {
			return
		}
		sh.drop(g)
		sh.evicted++
	}
}

// find returns the index of the entry named name in g, or -1. It compares
// the interned names' strings: interning the caller's name first would cost
// more than the scan.
func (g *group) find(name string) int {
	if g.index != nil {
		if i, ok := g.index[name]; ok {
			return int(i)
		}
		return -1
	}
	for i, e := range g.entries {
		if e.name.Value() == name {
			return i
		}
	}
	return -1
}

// remove deletes g's entry at i, dropping g when it was the last.
func (sh *shard) remove(g *group, i int) {
	e := g.entries[i]
	last := len(g.entries) - 1
	g.entries[i] = g.entries[last]
	g.entries[last] = nil
	g.entries = g.entries[:last]
	if g.index != nil {
		delete(g.index, e.name.Value())
		if i < last {
			g.index[g.entries[i].name.Value()] = int32(i)
		}
	}
	sh.keys--
	sh.account(g, -e.cost())
	if len(g.entries) == 0 {
		sh.drop(g)
	}
}

// add appends e to g.
func (sh *shard) add(g *group, e *entry) {
	before := g.cost()
	g.entries = append(g.entries, e)
	switch {
	case g.index != nil:
		g.index[e.name.Value()] = int32(len(g.entries) - 1)
	case len(g.entries) > manyEntries:
		g.index = make(map[string]int32, len(g.entries))
		for i, e := range g.entries {
			g.index[e.name.Value()] = int32(i)
		}
	}
	sh.keys++
	sh.account(g, g.cost()-before+e.cost())
}

// live returns the unexpired entry under k, or nil, and its group. An
// expired entry found on the way is reclaimed at once rather than left for
// the janitor. A found identity counts as used.
func (sh *shard) live(k state.Key, want kind, now int64) (*group, *entry, error) {
	g := sh.group(k)
	if g == nil {
		return nil, nil, nil
	}
	i := g.find(k.Name)
	if i < 0 {
		return g, nil, nil
	}
	e := g.entries[i]
	if e.expires <= now {
		sh.remove(g, i)
		if len(g.entries) == 0 {
			return nil, nil, nil
		}
		return g, nil, nil
	}
	if want != 0 && e.kind != want {
		return g, nil, fmt.Errorf("memory: key %s holds a %s, not a %s", k, e.kind, want)
	}
	return g, e, nil
}

// edit is one write in progress: the entry, its group and the entry's
// accounted bytes before the write. done accounts the change and evicts.
type edit struct {
	sh    *shard
	g     *group
	e     *entry
	bytes int64
}

func (w edit) done() {
	if w.e == nil {
		return
	}
	w.sh.account(w.g, w.e.cost()-w.bytes)
	w.sh.evict(w.g)
}

// upsert returns the live entry of kind want under k, creating it when
// absent, and restarts its TTL: every write does. The caller defers done on
// the returned edit once the write is made.
func (sh *shard) upsert(k state.Key, want kind, now int64, ttl time.Duration, x *scratch) (w edit, created bool, err error) {
	g, e, err := sh.live(k, want, now)
	if err != nil {
		return edit{}, false, err
	}
	if g == nil {
		g = sh.create(k)
	}
	if e == nil {
		e, created = newEntry(x.intern(k.Name), want), true
		sh.add(g, e)
	}
	e.expires = now + int64(ttl)
	return edit{sh: sh, g: g, e: e, bytes: e.cost()}, created, nil
}

// replace stores e under k, in place of whatever k held, and evicts. g is
// k's group as the caller just looked it up: nil when there is none.
func (sh *shard) replace(g *group, k state.Key, e *entry) {
	if g == nil {
		g = sh.create(k)
	}
	if i := g.find(k.Name); i >= 0 {
		old := g.entries[i]
		g.entries[i] = e
		sh.account(g, e.cost()-old.cost())
	} else {
		sh.add(g, e)
	}
	sh.evict(g)
}

// sweep deletes expired entries and the identities left empty. Go maps
// never shrink, so a map that lost most of its peak is rebuilt: reclaimed
// identities give their memory back too.
func (sh *shard) sweep(now int64) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, groups := range sh.tenants {
		for _, g := range groups {
			// Backwards: remove moves the last entry, already checked, into i.
			for i := len(g.entries) - 1; i >= 0; i-- {
				if g.entries[i].expires <= now {
					sh.remove(g, i) // drops g with its last entry
				}
			}
		}
	}
	if sh.peak > 1024 && sh.groups < sh.peak/4 {
		for t, groups := range sh.tenants {
			m := make(map[string]*group, len(groups))
			for k, g := range groups {
				m[k] = g
			}
			sh.tenants[t] = m
		}
		sh.peak, sh.last.groups = sh.groups, nil
	}
}
