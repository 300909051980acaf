package memory

import (
	"hash/maphash"

	"github.com/iamsentry/iamsentry/state"
)

// The engine claims every event's id under an identity of its own (on this
// store, where grouping claims by access key would only grow a group), so
// most identities a store holds are one value, written once and read again
// only on a retry. Held as groups, each cost a group and an entry (one
// allocation, 224 bytes), a slot in the identities' map and a place in the
// recency list: a fifth of the store's time for a seventh of its
// operations, and most of its pointers for the collector to scan.
//
// So an identity whose only state is a Claimed value is held as a claim: a
// record in the shard's claim log (see claimLog), found by the identity's
// hash and ordered by use. Answers are the same as from a group: the first
// operation on the identity that is not a Claim of the same name (a Put of
// the verdict, a read, a second name) promotes the claim into a group and
// proceeds on it, so kinds, TTLs and errors follow the groups' rules. Two
// identities whose hashes collide do not share the slot: the second gets a
// group.

// claim is an identity of a tenant holding one value under one name. It
// holds no pointer, so the collector never scans the claim log, the
// largest structure of a store on a scan (an identity per event). The
// identity itself is not kept, only a second hash of it (see
// claimDigest): with the log's key, hashKey, a 128-bit digest, which two
// identities share with odds of about n²/2¹²⁹ among n claims, none in
// practice. The identity's bytes (an event id's 40 or so, twice over in
// the arena between compactions) were half of what a claim held; the
// digest is 8. A promoted claim takes its identity from the key that
// promotes it, which the digest just matched. The value is bytes of the
// shard's claim arena (see claimArena), empty and taking none for the
// engine's claims; the name is an index of the arena's labels. used is 0
// in a record of the log no longer live (see claimLog).
type claim struct {
	h       uint64 // hashKey of the identity
	digest  uint64 // claimDigest of the identity
	expires int64  // wall clock, ns
	used    uint64 // the shard's tick at its last use
	at      uint32 // where the value starts in the arena
	valLen  uint16
	name    uint8 // index in the shard's claim labels
}

// claimSeed keys claimDigest: a seed apart from hashKey's makes the two
// hashes independent.
var claimSeed = maphash.MakeSeed()

// claimDigest is the second half of k's identity digest, hashKey the
// first: hashed as hashKey is, with another seed.
func claimDigest(k *state.Key) uint64 { return hashWith(claimSeed, k) }

// claimAlone claims k on an identity without a group: it reports false
// when the identity is, or must become, a group (another name of it is
// held, or its hash holds another identity's live claim), and the caller
// claims through the group instead.
func (sh *shard) claimAlone(k *state.Key, h uint64, value []byte, expires, now int64, x *scratch) (state.Claimed, bool) {
	c, held := sh.claims.get(h)
	d := claimDigest(k)
	switch {
	case !held:
	case c.digest != d:
		if c.expires > now {
			return state.Claimed{}, false
		}
		sh.dropClaim(h) // expired: reclaimed on access, as a group's entry is
	case sh.claimArena.labels[c.name] != k.Name:
		return state.Claimed{}, false
	case c.expires > now:
		sh.useClaim(c)
		return state.Claimed{Prior: append(make([]byte, 0, c.valLen), sh.claimArena.value(c)...)}, true
	default:
		sh.dropClaim(h)
	}
	c, ok := sh.claimArena.store(k.Name, value)
	if !ok {
		return state.Claimed{}, false
	}
	c.h, c.digest, c.expires = h, d, expires
	sh.tick++
	c.used = sh.tick
	sh.claims.add(c) // none held, or the one held just dropped
	sh.claimArena.compact(&sh.claims)
	sh.bytes += c.cost()
	sh.evict(nil)
	return state.Claimed{First: true}, true
}

// useClaim stores c as used now.
func (sh *shard) useClaim(c claim) {
	sh.tick++
	c.used = sh.tick
	sh.claims.put(c)
}

// oldestClaim returns the least recently used claim's hash and tick.
func (sh *shard) oldestClaim() (h, used uint64, ok bool) {
	c, ok := sh.claims.oldest()
	return c.h, c.used, ok
}

// dropClaim deletes the claim under h.
func (sh *shard) dropClaim(h uint64) {
	if c, ok := sh.claims.drop(h); ok {
		sh.forgetClaim(c)
	}
}

// forgetClaim returns the bytes of c, a claim dropped.
func (sh *shard) forgetClaim(c claim) {
	sh.bytes -= c.cost()
	sh.claimArena.dead += int(c.valLen)
}

// promote turns k's identity, held as a claim, into a group holding the
// claim's value, and returns it; nil when k's identity holds no claim.
func (sh *shard) promote(k *state.Key, h uint64) *group {
	c, ok := sh.claims.get(h)
	if !ok || c.digest != claimDigest(k) {
		return nil
	}
	a := &sh.claimArena
	one := &single{e: entry{name: a.labels[c.name], kind: kindValue, value: string(a.value(c)), expires: c.expires}}
	sh.dropClaim(h)
	g := sh.adopt(k, h, &one.g)
	sh.add(g, &one.e)
	return g
}

// sweepClaims deletes the expired claims.
func (sh *shard) sweepClaims(now int64) {
	sh.claims.dropExpired(now, sh.forgetClaim)
	sh.claimArena.compact(&sh.claims)
}
