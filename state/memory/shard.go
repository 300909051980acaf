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

	// held has a bit set for the hash of every group in ids, and for some
	// groups no longer there (drop leaves their bits; sweep clears them):
	// a claim (a new identity per event) looks for a group of its identity
	// first, and a bit clear answers that there is none from one word,
	// where a miss in ids read its groups' control words, rarely cached.
	held [heldWords]uint64

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
}

// recentGroups is how many groups a shard remembers as recent.
const recentGroups = 4

// heldWords is the size of a shard's held filter in words: 1,024 bits, a
// few percent of them set on the realistic month.
const heldWords = 16

// heldBit returns the word and bit of held for hash h. The low bits chose
// the shard: the bit comes from the high ones.
func heldBit(h uint64) (int, uint64) {
	b := h >> 54 // 10 bits
	return int(b / 64), 1 << (b % 64)
}

// mayHold reports whether ids may hold a group under h.
func (sh *shard) mayHold(h uint64) bool {
	w, b := heldBit(h)
	return sh.held[w]&b != 0
}

// groupKey names an identity of a tenant. The tenant is interned: tenants
// are few and would otherwise be copied into every identity.
type groupKey struct {
	tenant   unique.Handle[string]
	identity string
}

// group is the state of one identity: its entries, each under a name, and
// its place in the shard's recency list. Most identities hold a few dozen
// names at most, and a slice searched in order beats a map in both time
// and bytes: the search compares tags (see tagOf) in one run of memory and
// follows an entry's pointer only for its own name (following every
// entry's was most of live's time), and a name found moves to the front,
// so the names an event's operations use (its windows, among a
// principal's marks) are found in the first slots. Some identities hold
// hundreds of names or thousands (a mark per service and network seen, a
// name per policy or per target), and past manyEntries an index finds a
// name without the scan.
type group struct {
	key        groupKey
	chain      *group // the next group in ids with the same hash; nearly always nil
	used       uint64 // the shard's tick when the group was last used (see shard.tick)
	entries    []slot
	index      *nameIndex // past manyEntries
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

// slot is an entry of a group and its name's tag.
type slot struct {
	tag uint64
	e   *entry
}

// nameIndex finds a name among the entries of a group past manyEntries:
// pos, which never shrinks, and the names found last, most recent first.
// An event's operations use a few of an identity's hundreds of names (its
// windows, among its marks), which recent answers from a few cache lines
// where pos hashed the name and read the map's memory, rarely cached
// (600k of the realistic month's 1.1M lookups of a name were in groups of
// 64 to 832 entries). A recent position is checked against the entry
// there: remove moves entries, and a stale one is passed over.
type nameIndex struct {
	pos    map[string]int32 // name → position in entries
	recent [recentNames]foundName
}

// foundName is a name found in a group past manyEntries: its tag and its
// entry's position.
type foundName struct {
	tag uint64
	at  int
}

// recentNames is how many names a nameIndex remembers as found.
const recentNames = 16

// manyEntries is how many entries a group scans before it keeps an index:
// a scan of 64 tags costs less than the index's lookup, which hashes the
// name and reads the map's memory, rarely cached.
const manyEntries = 64

// tagOf is what a group compares before a name: its length and a few of
// its bytes, the last ones among them. A store's names share prefixes (a
// detector's, "enum:grid:") and differ at their ends or in length, so two
// names of one group rarely share a tag, and a tag costs a few loads where
// hashing the name costs a pass over it. Names sharing a tag are told
// apart by comparing them.
func tagOf(name string) uint64 {
	n := len(name)
	if n == 0 {
		return 0
	}
	return uint64(n) | uint64(name[n-1])<<16 | uint64(name[max(n-2, 0)])<<24 |
		uint64(name[max(n-3, 0)])<<32 | uint64(name[n/2])<<40 | uint64(name[n/4])<<48
}

// seed keys the hashes of every store's identities: a hash only has to be
// stable within one process.
var seed = maphash.MakeSeed()

// hashKey hashes k's tenant and identity: its low bits pick the shard, the
// whole of it keys the shard's map. Two string hashes cost less than one
// hash of a pair; the rotation keeps a tenant and an identity that swap
// names apart.
func hashKey(k state.Key) uint64 { return hashWith(seed, k) }

// hashWith is hashKey with the hashes keyed by s.
func hashWith(s maphash.Seed, k state.Key) uint64 {
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
func (sh *shard) group(k state.Key, h uint64, x *scratch) *group {
	if g := sh.lookup(k, h, x); g != nil {
		return g
	}
	return sh.promote(k, h)
}

// lookup is group for an identity held as a group, nil otherwise. x, the
// calling Exec's scratch, may know the group already: k's identity is
// its current one.
func (sh *shard) lookup(k state.Key, h uint64, x *scratch) *group {
	g := x.group()
	if g == nil {
		g = sh.cached(k, h)
	}
	if g == nil {
		if !sh.mayHold(h) {
			return nil
		}
		for g = sh.ids[h]; g != nil && !g.is(k); g = g.chain {
		}
		if g == nil {
			return nil
		}
		sh.remember(g)
	}
	x.found(g)
	sh.touch(g)
	return g
}

// alive reports whether g is still held: drop takes it off the recency
// list, which the lru sentinel keeps every held group on.
func (g *group) alive() bool { return g.next != nil }

// is reports whether g is k's identity.
func (g *group) is(k state.Key) bool {
	return same(g.key.identity, k.Identity) && g.key.tenant.Value() == k.Tenant
}

// cached returns k's identity when it is among the recent groups, moved
// to the front of them; nil otherwise.
func (sh *shard) cached(k state.Key, h uint64) *group {
	for i, g := range sh.recent {
		if g == nil {
			return nil // slots fill from the front
		}
		if g.is(k) {
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
func (sh *shard) create(k state.Key, h uint64) *group {
	return sh.adopt(k, h, new(group))
}

// adopt is create with the group's memory given: g is zero but for its
// entries' backing array, which it may already have (see single).
func (sh *shard) adopt(k state.Key, h uint64, g *group) *group {
	g.key = groupKey{tenant: sh.intern(k.Tenant), identity: strings.Clone(k.Identity)}
	g.chain = sh.ids[h]
	sh.tick++
	g.used = sh.tick
	g.prev, g.next = &sh.lru, sh.lru.next
	sh.lru.next.prev = g
	sh.lru.next = g
	sh.ids[h] = g
	w, b := heldBit(h)
	sh.held[w] |= b
	sh.remember(g)
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

// find returns the index of the entry named name in g, or -1. Without an
// index, the entry found moves to the front.
func (g *group) find(name string) int {
	t := tagOf(name)
	if g.index != nil {
		return g.findIndexed(name, t)
	}
	for i := range g.entries {
		if s := &g.entries[i]; s.tag == t && s.e.name == name {
			if i > 0 {
				hit := *s
				copy(g.entries[1:i+1], g.entries[:i])
				g.entries[0] = hit
			}
			return 0
		}
	}
	return -1
}

// findIndexed is find past manyEntries; t is tagOf(name).
func (g *group) findIndexed(name string, t uint64) int {
	x := g.index
	for i, r := range x.recent {
		if r.tag != t || r.at >= len(g.entries) {
			continue
		}
		if s := &g.entries[r.at]; s.tag == t && s.e.name == name {
			copy(x.recent[1:i+1], x.recent[:i])
			x.recent[0] = r
			return r.at
		}
	}
	at, ok := x.pos[name]
	if !ok {
		return -1
	}
	copy(x.recent[1:], x.recent[:len(x.recent)-1])
	x.recent[0] = foundName{t, int(at)}
	return int(at)
}

// remove deletes g's entry at i, dropping g when it was the last.
func (sh *shard) remove(g *group, i int) {
	e := g.entries[i].e
	last := len(g.entries) - 1
	g.entries[i] = g.entries[last]
	g.entries[last] = slot{}
	g.entries = g.entries[:last]
	if g.index != nil {
		delete(g.index.pos, e.name)
		if i < last {
			g.index.pos[g.entries[i].e.name] = int32(i)
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
	g.entries = append(g.entries, slot{tagOf(e.name), e})
	switch {
	case g.index != nil:
		g.index.pos[e.name] = int32(len(g.entries) - 1)
	case len(g.entries) > manyEntries:
		g.index = &nameIndex{pos: make(map[string]int32, len(g.entries))}
		for i, s := range g.entries {
			g.index.pos[s.e.name] = int32(i)
		}
	}
	sh.keys++
	e.bytes = e.cost()
	sh.account(g, g.cost()-before+e.bytes)
}

// live returns the unexpired entry under k, or nil, and its group. An
// expired entry found on the way is reclaimed at once rather than left for
// the janitor. A found identity counts as used.
func (sh *shard) live(k state.Key, h uint64, want kind, now int64, x *scratch) (*group, *entry, error) {
	g := sh.group(k, h, x)
	if g == nil {
		return nil, nil, nil
	}
	i := g.find(k.Name)
	if i < 0 {
		return g, nil, nil
	}
	e := g.entries[i].e
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
func (sh *shard) upsert(k state.Key, h uint64, want kind, now int64, ttl time.Duration, x *scratch) (w edit, created bool, err error) {
	g, e, err := sh.live(k, h, want, now, x)
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
func (sh *shard) replace(g *group, k state.Key, h uint64, e *entry) {
	if g == nil {
		g = sh.create(k, h)
	}
	if i := g.find(k.Name); i >= 0 {
		old := g.entries[i].e
		g.entries[i].e = e
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
				if g.entries[i].e.expires <= now {
					sh.remove(g, i) // drops g with its last entry
				}
			}
			g = next
		}
	}
	sh.held = [heldWords]uint64{}
	for h := range sh.ids {
		w, b := heldBit(h)
		sh.held[w] |= b
	}
	if sh.peak > 1024 && sh.groups < sh.peak/4 {
		m := make(map[uint64]*group, len(sh.ids))
		maps.Copy(m, sh.ids)
		sh.ids, sh.peak = m, sh.groups
	}
	sh.sweepClaims(now)
}
