package memory

import (
	"fmt"
	"hash/maphash"
	"maps"
	"math/bits"
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
	mu sync.Mutex
	// ids maps the hash of a tenant and identity (see hashKey) to its
	// group; groups whose hashes collide chain through group.chain. The
	// hash is the one that picked the shard, computed once per operation:
	// a map by identity string hashed the identity again on every lookup
	// and insert, and the dedupe claims (an identity per event) made that
	// map the largest structure of the store.
	ids     map[uint64]*group
	groups  int   // groups in ids, chained ones included
	lru     group // sentinel: lru.next is the most recently used group, lru.prev the least
	bytes   int64 // accounted bytes of every group (see cost.go)
	budget  int64 // most accounted bytes before eviction; 0: no budget
	keys    int   // entries in every group, expired ones included until reclaimed
	evicted int64 // groups evicted to keep within budget
	peak    int   // most groups ids held since it was last rebuilt

	// tick counts the uses of the shard's groups and claims: what was
	// used at a lower tick was used less recently, which orders the
	// groups' recency list against the claims' queue (see evict).
	tick uint64

	// claims holds the identities whose whole state is one value, the
	// dedupe claim of an event (see claims.go), by hashKey and in order
	// of use for eviction.
	claims     claimLog
	claimArena claimArena // the claims' values and names

	// tenant is the last tenant interned: a scorer serves one tenant or
	// a few, so most new groups find their tenant's handle here.
	tenant struct {
		name   string
		handle unique.Handle[string]
		set    bool
	}

	// recent are the groups looked up or created last, most recent
	// first: three operations in four on the realistic corpus are on an
	// identity one of the shard's last few operations was on (a
	// detector's reads and writes of one event, the next detector's of
	// the same identity), and comparing a few strings costs less than a
	// map lookup. (One slot was not enough while every event's dedupe
	// claim made a group of its own; claims are held apart now, see
	// claims.go, but the operations of one event can still alternate
	// between several identities.) nil slots hold nothing.
	recent [recentGroups]*group
	// recentHash holds the hashKey of each recent group: a lookup compares
	// it before the identity, so the recent groups that are not the one
	// looked up cost a comparison of integers each rather than of strings
	// and the tenant's handle (cached was 1.4 % of a scan's instructions).
	recentHash [recentGroups]uint64

	// hint is the group the last lookup on the shard found or made. While
	// again is set, the operation running is on the identity of the one
	// before it, and lookup takes the hint without comparing identities
	// (see Store.hold, which sets again and drops the hint): a group's
	// copy of its identity, never the caller's string, made the
	// comparison one of every byte, and half the operations of a scan
	// are on the identity of the operation before. nil: none.
	hint  *group
	again bool
}

// release clears again and unlocks the shard: the hint is for the
// operations of the Exec holding the lock.
func (sh *shard) release() {
	sh.again = false
	sh.mu.Unlock()
}

// recentGroups is how many groups a shard remembers as recent.
const recentGroups = 4

// groupKey names an identity of a tenant. The tenant is interned: tenants
// are few and would otherwise be copied into every identity.
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
	chain      *group // the next group in ids with the same hash; nearly always nil
	used       uint64 // the shard's tick when the group was last used (see shard.tick)
	entries    []*entry
	index      *nameIndex // finds a name's position in entries, past manyEntries; never shrinks
	bytes      int64      // accounted bytes of the group, entries included
	prev, next *group
}

// single is a new identity's group allocated with its first entry: the
// group a dedupe claim creates (an event id's, a fifth of the operations
// on the realistic corpus) holds that claim alone until it expires, and
// one allocation for the two costs less than two. The two take 232 bytes
// of a 240-byte size class; the entries slot stays apart, as inlining it
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

// seed keys the hashes of every store's identities: a hash only has to be
// stable within one process.
var seed = maphash.MakeSeed()

// hashKey hashes k's tenant and identity: its low bits pick the shard, the
// whole of it keys the shard's map. Two string hashes cost less than one
// hash of a pair; the rotation keeps a tenant and an identity that swap
// names apart.
func hashKey(k state.Key) uint64 { return hashWith(seed, &k) }

// hashWith is hashKey with the hashes keyed by s.
func hashWith(s maphash.Seed, k *state.Key) uint64 {
	h := maphash.String(s, k.Identity)
	if k.Tenant != "" {
		h = bits.RotateLeft64(h, 21) ^ maphash.String(s, k.Tenant)
	}
	return h
}

// rehash is hashKey where a group's hash is needed again (dropping it): a
// group does not keep its hash, which would push it into the next size
// class. Tests replace it to force collisions.
var rehash = hashKey

func (sh *shard) init(budget int64) {
	sh.ids = make(map[uint64]*group)
	sh.lru.prev, sh.lru.next = &sh.lru, &sh.lru
	sh.budget = budget
}

// touch moves g to the front of the recency list: it was just used.
func (sh *shard) touch(g *group) {
	sh.tick++
	g.used = sh.tick
	if sh.lru.next == g {
		return
	}
	g.prev.next, g.next.prev = g.next, g.prev
	g.prev, g.next = &sh.lru, sh.lru.next
	sh.lru.next.prev = g
	sh.lru.next = g
}

// group returns k's identity, touched, or nil when it holds nothing. h is
// hashKey(k).
// An identity held as a claim (see claims.go) becomes a group here: the
// caller is about to use it as one.
func (sh *shard) group(k *state.Key, h uint64) *group {
	if g := sh.hint; g != nil && sh.again { // lookup's first step, inlined
		sh.touch(g)
		return g
	}
	if g := sh.search(k, h); g != nil {
		return g
	}
	return sh.promote(k, h)
}

// lookup is group for an identity held as a group, nil otherwise.
func (sh *shard) lookup(k *state.Key, h uint64) *group {
	if g := sh.hint; g != nil && sh.again {
		sh.touch(g)
		return g
	}
	return sh.search(k, h)
}

// search is lookup past the hint, which group has tested already.
func (sh *shard) search(k *state.Key, h uint64) *group {
	g := sh.cached(k, h)
	if g == nil {
		for g = sh.ids[h]; g != nil && !g.is(k); g = g.chain {
		}
		if g == nil {
			return nil
		}
		sh.remember(g, h)
	}
	sh.touch(g)
	sh.hint = g
	return g
}

// is reports whether g is k's identity.
func (g *group) is(k *state.Key) bool {
	// same, for the tenant too: most are the default tenant, "", which
	// == would still compare in a call.
	return same(g.key.identity, k.Identity) && same(g.key.tenant.Value(), k.Tenant)
}

// cached returns k's identity when it is among the recent groups, moved
// to the front of them; nil otherwise.
// The hashes are compared first, without loading the groups: most
// recent groups are not the one looked up. A free slot (nil) may keep a
// stale hash.
func (sh *shard) cached(k *state.Key, h uint64) *group {
	for i, rh := range sh.recentHash {
		if rh != h {
			continue
		}
		if g := sh.recent[i]; g != nil && g.is(k) {
			sh.shiftRecent(i)
			sh.recent[0], sh.recentHash[0] = g, h
			return g
		}
	}
	return nil
}

// remember makes g, whose hashKey is h, the most recent group, forgetting
// the least recent.
func (sh *shard) remember(g *group, h uint64) {
	sh.shiftRecent(len(sh.recent) - 1)
	sh.recent[0], sh.recentHash[0] = g, h
}

// shiftRecent moves the recent groups before i one place back, over the
// one at i. A loop: copy of pointers is a call (typedslicecopy) that
// cost more than these few moves.
func (sh *shard) shiftRecent(i int) {
	for ; i > 0; i-- {
		sh.recent[i], sh.recentHash[i] = sh.recent[i-1], sh.recentHash[i-1]
	}
}

// forget removes g from the recent groups, keeping the others in order
// and the free slots at the back.
func (sh *shard) forget(g *group) {
	for i, r := range sh.recent {
		if r == g {
			copy(sh.recent[i:], sh.recent[i+1:])
			copy(sh.recentHash[i:], sh.recentHash[i+1:])
			sh.recent[len(sh.recent)-1] = nil
			return
		}
	}
}

// create returns a new group for k's identity, which holds nothing: the
// caller just looked it up. The group is stored under a copy of the
// identity: a caller's strings may be slices of a large record, which the
// map would pin.
func (sh *shard) create(k *state.Key, h uint64) *group {
	return sh.adopt(k, h, new(group))
}

// adopt is create with the group's memory given: g is zero but for its
// entries' backing array, which it may already have (see single).
func (sh *shard) adopt(k *state.Key, h uint64, g *group) *group {
	g.key = groupKey{tenant: sh.intern(k.Tenant), identity: strings.Clone(k.Identity)}
	g.chain = sh.ids[h]
	sh.tick++
	g.used = sh.tick
	g.prev, g.next = &sh.lru, sh.lru.next
	sh.lru.next.prev = g
	sh.lru.next = g
	sh.ids[h] = g
	sh.remember(g, h)
	sh.hint = g
	sh.groups++
	sh.peak = max(sh.peak, sh.groups)
	sh.account(g, g.cost())
	return g
}

// intern returns tenant's handle.
func (sh *shard) intern(tenant string) unique.Handle[string] {
	if !sh.tenant.set || sh.tenant.name != tenant {
		sh.tenant.name, sh.tenant.handle, sh.tenant.set = strings.Clone(tenant), unique.Make(tenant), true
	}
	return sh.tenant.handle
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
	sh.unlink(g)
	sh.groups--
	sh.forget(g)
	if sh.hint == g {
		sh.hint = nil
	}
	sh.bytes -= g.bytes
	sh.keys -= len(g.entries)
}

// unlink removes g from ids, keeping the groups chained with it.
func (sh *shard) unlink(g *group) {
	h := rehash(state.Key{Tenant: g.key.tenant.Value(), Identity: g.key.identity})
	switch p := sh.ids[h]; {
	case p == g && g.chain == nil:
		delete(sh.ids, h)
	case p == g:
		sh.ids[h] = g.chain
	default:
		for p.chain != g {
			p = p.chain
		}
		p.chain = g.chain
	}
	g.chain = nil
}

// evict drops least recently used identities until the shard is within its
// budget, sparing keep, the identity the current operation works on: a
// single identity larger than the budget stays until another one is used.
// The claims take their turn by their last use: the least recently used
// of the recency list's last group and the claims' queue's first claim
// goes first, and the claim used last (the current operation's) stays.
func (sh *shard) evict(keep *group) {
	if sh.budget > 0 && sh.bytes > sh.budget { // inlined: most writes leave the shard within it
		sh.evictOver(keep)
	}
}

// evictOver is evict for a shard over its budget.
func (sh *shard) evictOver(keep *group) {
	for sh.budget > 0 && sh.bytes > sh.budget {
		g := sh.lru.prev
		evictGroup := g != &sh.lru && g != keep
		h, used, ok := sh.oldestClaim()
		switch {
		case ok && used != sh.tick && (!evictGroup || used < g.used):
			sh.dropClaim(h)
		case evictGroup:
			sh.drop(g)
		default:
			return
		}
		sh.evicted++
	}
}

// find returns the index of the entry named name in g, or -1.
func (g *group) find(name string) int {
	if g.index != nil {
		return g.index.find(name, g.entries)
	}
	return g.scan(name)
}

// scan is find for a group without an index. It is apart so that live,
// the store's most frequent caller of find, inlines it: find, with the
// index's call, is too large to be inlined.
func (g *group) scan(name string) int {
	for i, e := range g.entries {
		if same(e.name, name) {
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
		delete(g.index.pos, e.name)
		if i < last {
			g.index.pos[g.entries[i].name] = int32(i)
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
		g.index.pos[e.name] = int32(len(g.entries) - 1)
	case len(g.entries) > manyEntries:
		g.index = newNameIndex(g.entries)
	}
	sh.keys++
	e.bytes = e.cost()
	sh.account(g, g.cost()-before+e.bytes)
}

// live returns the unexpired entry under k, or nil, and its group. An
// expired entry found on the way is reclaimed at once rather than left for
// the janitor. A found identity counts as used.
func (sh *shard) live(k *state.Key, h uint64, want kind, now int64) (*group, *entry, error) {
	g := sh.group(k, h)
	if g == nil {
		return nil, nil, nil
	}
	var i int
	if g.index != nil {
		i = g.index.find(k.Name, g.entries)
	} else {
		i = g.scan(k.Name)
	}
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
		return g, nil, fmt.Errorf("memory: key %s holds a %s, not a %s", *k, e.kind, want)
	}
	return g, e, nil
}

// edit is one write in progress: the entry and its group. done accounts
// the change against the bytes the entry was last accounted at
// (entry.bytes) and evicts. Costing the entry before every write as well
// as after it was 2 % of a scan, for writes of which 96 % change no cost
// (a window's member seen again, a mark moved).
type edit struct {
	sh *shard
	g  *group
	e  *entry
}

func (w edit) done() {
	if w.e == nil {
		return
	}
	c := w.e.cost()
	w.sh.account(w.g, c-w.e.bytes)
	w.e.bytes = c
	w.sh.evict(w.g)
}

// doneIf is done when the write may have changed the entry's cost; when it
// cannot have (it created nothing and resized nothing), the accounted
// bytes stand, and only eviction runs, as after any write: an identity
// larger than the budget, spared while it was being written, goes once
// another is used.
func (w edit) doneIf(changed bool) {
	if changed {
		w.done()
		return
	}
	w.sh.evict(w.g)
}

// upsert returns the live entry of kind want under k, creating it when
// absent, and restarts its TTL: every write does. The caller defers done on
// the returned edit once the write is made.
func (sh *shard) upsert(k *state.Key, h uint64, want kind, now int64, ttl time.Duration, x *scratch) (w edit, created bool, err error) {
	g, e, err := sh.live(k, h, want, now)
	if err != nil {
		return edit{}, false, err
	}
	if g == nil {
		g = sh.create(k, h)
	}
	if e == nil {
		e, created = newEntry(strings.Clone(k.Name), want), true
		sh.add(g, e)
	}
	e.expires = now + int64(ttl)
	return edit{sh: sh, g: g, e: e}, created, nil
}

// replace stores e under k, in place of whatever k held, and evicts. g is
// k's group as the caller just looked it up: nil when there is none; h is
// hashKey(k).
func (sh *shard) replace(g *group, k *state.Key, h uint64, e *entry) {
	if g == nil {
		g = sh.create(k, h)
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
	for _, g := range sh.ids {
		for g != nil {
			next := g.chain // remove may drop g, which unlinks it
			// Backwards: remove moves the last entry, already checked, into i.
			for i := len(g.entries) - 1; i >= 0; i-- {
				if g.entries[i].expires <= now {
					sh.remove(g, i) // drops g with its last entry
				}
			}
			g = next
		}
	}
	if sh.peak > 1024 && sh.groups < sh.peak/4 {
		m := make(map[uint64]*group, len(sh.ids))
		maps.Copy(m, sh.ids)
		sh.ids, sh.peak = m, sh.groups
	}
	sh.sweepClaims(now)
}
