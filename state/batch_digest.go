package state

import (
	"hash/maphash"
	"math/bits"
	"unsafe"
)

// indexSeed keys the digests of every batch: a digest only has to be
// stable within one process.
var indexSeed = maphash.MakeSeed()

// digest is key's 64-bit hash. The index maps digests rather than keys: a
// map by Key hashes its three strings on every lookup and again on the
// insert that follows, once per queued operation; hashing them once and
// mapping an integer twice costs less.
func digest(k Key) uint64 {
	var tenant uint64
	if k.Tenant != "" {
		tenant = maphash.String(indexSeed, k.Tenant)
	}
	return keyBase(maphash.String(indexSeed, k.Identity), tenant) ^ maphash.String(indexSeed, k.Name)
}

// keyBase is what a key's identity and tenant add to its digest, from
// their hashes (the tenant's is 0 for ""): the name's hash is xored in. The
// memo keeps it for the identity and tenant it holds, so that a key of
// another name costs one xor; each part is rotated by its own amount, so a
// string counts differently in each field.
func keyBase(identity, tenant uint64) uint64 {
	return bits.RotateLeft64(identity, 21) ^ bits.RotateLeft64(tenant, 42)
}

// memo is the last key a batch digested and where its chain is in the
// batch's index: a detector asks about a key (LastWrite, OnKey,
// SharedWindowRead) and then queues on it, and the second look-up of the
// same key is then a comparison of strings that are usually the very
// same, no probe. The hash of the key's identity is kept apart: a
// detector queues several operations on keys of one identity (enumeration
// six window sets, a mark and a bucket of its principal) under different
// names, and the identity, an ARN-sized string, was most of what a digest
// hashed. The key's identity is the memo's identity whenever ok is set.
type memo struct {
	ok     bool
	name   string // the key's name, when ok
	digest uint64
	pos    int    // the key's slot in last, or -1: none, or not looked up
	gen    uint32 // last.gen when pos was found

	tenant     string // the last tenant, and its hash (0 for "")
	tenantHash uint64

	identity string // the last identity hashed, and its hash, when idOK
	idHash   uint64
	idOK     bool

	base uint64 // keyBase(idHash, tenantHash), when idOK
}

// memoize makes k the memo's key and returns its digest, from the memo
// when k is the key looked up last, and with the hash of its identity from
// the memo when the identity is the last one hashed. k is passed by
// address: a Key is six words, which every call moved through registers
// and spilled.
//
// A key whose strings are the memo's very strings (the same bytes, as
// sameBytes says) is the memo's key: the detectors' pattern, a look-up
// and then the queue call that copies the key into its operation, asks
// for it so some 0.9M times a month. That test (memo.holds) is inlined
// in chain and push, the callers of nearly every look-up, and spares
// them a call; every other key takes digestKey.
func (b *Batch) memoize(k *Key) uint64 {
	if b.memo.holds(k) {
		return b.memo.digest
	}
	return b.digestKey(k)
}

// holds reports whether k's strings are the very bytes of the memo's key
// (the same address and length): then k is the memo's key.
func (m *memo) holds(k *Key) bool {
	return m.ok && sameBytes(k.Name, m.name) && sameBytes(k.Identity, m.identity) && sameBytes(k.Tenant, m.tenant)
}

// sameBytes reports whether a and b are the very same bytes: the same
// address and length. Equal strings elsewhere are not.
func sameBytes(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// digestKey is memoize for a key whose strings are not all the memo's
// own: it makes k the memo's key, with its digest worked out again. A key
// equal to the memo's in bytes of its own (5k of the 1.5M calls over the
// realistic month) is not told apart: comparing every key's name and
// tenant by contents for it cost more than its probe of the index, which
// the memo then makes again. The identity is compared, as it is the
// memo's for most keys (see memo), and its hash kept.
func (b *Batch) digestKey(k *Key) uint64 {
	m := &b.memo
	rebase := false
	if !m.idOK || !same(k.Identity, m.identity) {
		m.identity, m.idHash, m.idOK = k.Identity, maphash.String(indexSeed, k.Identity), true
		rebase = true
	}
	if !same(m.tenant, k.Tenant) { // seldom: a batch is mostly one tenant's
		m.tenant, m.tenantHash = k.Tenant, 0
		if k.Tenant != "" {
			m.tenantHash = b.hashName(k.Tenant)
		}
		rebase = true
	}
	if rebase {
		m.base = keyBase(m.idHash, m.tenantHash)
	}
	nh, ok := b.names.cached(k.Name)
	if !ok {
		nh = b.hashNameAgain(k.Name)
	}
	d := m.base ^ nh
	m.ok, m.name, m.digest, m.pos = true, k.Name, d, -1
	return d
}

// nameHashes holds the hashes of the names (and tenants) a batch
// digested, by where their bytes lie. Detectors name their state with
// constants and strings they build once (a dozen names cover 60 % of the
// keys a batch digests, a hundred 98 %), while identities change from
// event to event; hashing the name was a third of what digesting a key
// cost. A slot is found from the address of the string's bytes, and
// answers for a string of the same address and length: a Go string's
// bytes never change (the strings this module builds over bytes of its own
// with unsafe.String are never written again either), and the slot holds
// the string, so its bytes cannot be freed and reused for another while
// the slot answers for them. A string of the same contents elsewhere
// takes the slot over. What the slots hold stays alive with the batch:
// 256 names, or the chunks they were carved from (4 KiB at most each).
type nameHashes struct {
	names  [nameSlots]string
	hashes [nameSlots]uint64
}

// nameSlots is the number of names a batch keeps the hashes of: the
// realistic month's keys use about a hundred names often, and 256 slots
// find over 90 % of their look-ups.
const nameSlots = 256

// hashName returns maphash.String(indexSeed, s), from b's names when it
// hashed these very bytes before (see nameHashes).
func (b *Batch) hashName(s string) uint64 {
	if h, ok := b.names.cached(s); ok {
		return h
	}
	return b.hashNameAgain(s)
}

// cached returns the hash t holds for the bytes of s, if any. It is
// small enough to be inlined in digestKey, as hashName, which calls on
// when it misses, is not.
func (t *nameHashes) cached(s string) (uint64, bool) {
	if t == nil {
		return 0, false
	}
	i := nameSlot(s)
	n := t.names[i]
	return t.hashes[i], unsafe.StringData(n) == unsafe.StringData(s) && len(n) == len(s) && len(s) > 0
}

// hashNameAgain is hashName for a name whose bytes its batch does not
// hold the hash of: it hashes s and keeps the hash in s's slot. The table
// (6 KiB) is made once a batch holds nameTableAfter operations, and kept
// by Reset and Recycle: a batch of a few operations (the engine's
// throttles and verdicts, a lone event's) hashes its names as they come.
func (b *Batch) hashNameAgain(s string) uint64 {
	h := maphash.String(indexSeed, s)
	if b.names == nil {
		if len(b.ops) < nameTableAfter {
			return h
		}
		b.names = new(nameHashes)
	}
	i := nameSlot(s)
	b.names.names[i], b.names.hashes[i] = s, h
	return h
}

// nameTableAfter is how many operations a batch holds before it keeps
// the hashes of its names.
const nameTableAfter = 64

func nameSlot(s string) uintptr {
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return (p ^ p>>8 ^ uintptr(len(s))) % nameSlots
}

// same is a == b, without a call when their bytes are the very same (or
// their lengths differ): the strings a batch compares (a key with the
// memo's, an operation's key with the key looked up) mostly are, as
// detectors build the keys of one event from one identity string and
// constant names.
func same(a, b string) bool {
	return len(a) == len(b) && (unsafe.StringData(a) == unsafe.StringData(b) || a == b)
}

// sameKey is *a == *b, comparing fields as same does.
func sameKey(a, b *Key) bool {
	return same(a.Name, b.Name) && same(a.Identity, b.Identity) && same(a.Tenant, b.Tenant)
}
