package state

import (
	"iter"
	"time"

	"github.com/iamsentry/iamsentry/internal/chunks"
)

// Batch is an ordered list of state operations, filled by detectors and the
// engine, then executed once by a Store. A Batch is not safe for concurrent
// use; it belongs to the goroutine scoring one micro-batch.
//
// A Batch also indexes its operations by key (see OnKey), so that a
// detector can find what the batch already asks of a key without a
// memory of its own.
type Batch struct {
	ops  []Op
	last table[chain] // per key digest: its latest operation and latest write
	prev []int32      // prev[i]: the previous operation on ops[i]'s digest, or -1

	// reads indexes the window reads (WindowReadOp) by the digest of
	// their key, span and limit: the position of the latest one.
	// SharedWindowRead finds a read to share in one lookup rather than a
	// walk over every earlier read of the key. A WindowAddReadOp is not
	// indexed here: it is its key's latest write, which the key's chain
	// holds, or it is too old to share.
	reads table[int32]

	// memo is the last key digested and where its chain is in last (see
	// memoize), and names the hashes of the names and tenants it digested
	// (see nameHashes).
	memo  memo
	names *nameHashes

	// The operations of the kinds detectors queue for most events are
	// allocated a chunk at a time (see chunk): a micro-batch queues a few
	// thousand, and one allocation each was a fifth of the engine's.
	claims         chunk[ClaimOp]
	windowAdds     chunk[WindowAddOp]
	windowAddReads chunk[WindowAddReadOp]
	windowPairs    chunk[WindowPairAddReadOp]
	windowReads    chunk[WindowReadOp]
	novelties      chunk[NoveltyAddOp]
	marks          chunk[MarkOp]
	bucketAdds     chunk[BucketAddOp]
	// The kinds detectors queue for some events only: one allocation
	// each was still a twentieth of the engine's allocations.
	gets        chunk[GetOp]
	puts        chunk[PutOp]
	readMarks   chunk[ReadMarkOp]
	bucketReads chunk[BucketReadOp]
}

// chunk is where the next operations of one kind are stored. An operation
// keeps its slot (its future is a pointer into it) until the batch is
// recycled (Recycle); a chunk used up is otherwise only left behind, and
// freed once nothing points into it.
type chunk[T any] = chunks.Chunks[T]

// maxChunk bounds a chunk: an operation that outlives its batch (a future
// kept past it) pins at most this many neighbours.
const maxChunk = 32

// chunkSize is how many operations a fresh chunk holds: it grows with
// the batch (queued/8), so a batch of a few operations allocates for them
// alone. An operation's slot comes zeroed from its chunk (Chunks.Next),
// and the queuing methods set its fields in place: building one and
// copying it in (a WindowAddReadOp is some 200 bytes, most of them its
// future's) was a seventh of the CPU of queuing it. They ask their chunk
// themselves, by its concrete type, so that Next is inlined: through a
// generic helper it was two calls per queued operation.
func (b *Batch) chunkSize() int {
	return min(max(len(b.ops)/8, 1), maxChunk)
}

// Op is one queued operation. The concrete types below are the whole set; a
// backend type-switches over them and resolves each one's Result.
type Op interface {
	// Fail resolves the operation's future with err unless it is resolved.
	Fail(err error)
	// Target is the key the operation acts on.
	Target() Key
}

// Ops returns the queued operations in queue order.
func (b *Batch) Ops() []Op { return b.ops }

// Len returns the number of queued operations.
func (b *Batch) Len() int { return len(b.ops) }

// FailAll fails every operation that has not been resolved.
func (b *Batch) FailAll(err error) { FailAll(b.ops, err) }

// FailAll fails every operation of ops that has not been resolved: for a
// store that runs a batch's operations rewritten (a window pair as its
// halves) and must fail the ones it runs.
func FailAll(ops []Op, err error) {
	for _, op := range ops {
		op.Fail(err)
	}
}

// chain is where a key digest's operations are: the latest, from which
// prev links back to the first, and the latest that writes (-1: none).
// A write counts for every key of the digest, so a colliding key's
// write only makes SharedWindowRead share less, never wrongly.
type chain struct{ last, write int32 }

// OnKey yields the operations queued on key so far, latest first.
func (b *Batch) OnKey(key Key) iter.Seq[Op] {
	return func(yield func(Op) bool) {
		c := b.chain(&key)
		i := int32(-1)
		if c != nil {
			i = c.last
		}
		for i >= 0 {
			// The chain is by digest: a key whose digest collides with
			// key's shares it, and is skipped here.
			if op := b.ops[i]; sameKey(keyOf(op), &key) && !yield(op) {
				return
			}
			i = b.prev[i]
		}
	}
}

// LastWrite returns the latest operation queued on key that writes it
// (any but a Get, WindowRead, ReadMark or BucketRead), or nil when none
// does: the operation whose effect the key's later reads see. It is one
// lookup, however many reads of the key follow that write.
func (b *Batch) LastWrite(key Key) Op {
	c := b.chain(&key)
	if c == nil || c.write < 0 {
		return nil
	}
	// The digest's latest write is key's unless a key whose digest
	// collides wrote after it: then key's is further back on the chain.
	for i := c.write; i >= 0; i = b.prev[i] {
		// The digest's latest write is one: only an operation further
		// back has to be asked whether it writes.
		if op := b.ops[i]; sameKey(keyOf(op), &key) && (i == c.write || writes(op)) {
			return op
		}
	}
	return nil
}

// keyOf is the address of op's key, in op itself: the walks along a
// chain compare it with the key they look up, where asking op (Target,
// through the interface) was a dynamic call that returned a copy of the
// key, six words. It is a type switch rather than an address kept beside
// each operation: that was one more pointer written per queued operation,
// and the collector's write barrier on it, while it marks, cost more
// than the call it saved.
func keyOf(op Op) *Key {
	switch o := op.(type) {
	case *MarkOp:
		return &o.Key
	case *WindowPairAddReadOp:
		return &o.Key
	case *WindowAddReadOp:
		return &o.Key
	case *NoveltyAddOp:
		return &o.Key
	case *WindowReadOp:
		return &o.Key
	case *WindowAddOp:
		return &o.Key
	case *BucketAddOp:
		return &o.Key
	case *ReadMarkOp:
		return &o.Key
	case *GetOp:
		return &o.Key
	case *PutOp:
		return &o.Key
	case *BucketReadOp:
		return &o.Key
	case *ClaimOp:
		return &o.Key
	case *ThrottleOp:
		return &o.Key
	}
	k := op.Target()
	return &k
}

// writes reports whether op changes its key: what add, rather than
// addRead, queues.
func writes(op Op) bool {
	switch op.(type) {
	case *GetOp, *WindowReadOp, *ReadMarkOp, *BucketReadOp:
		return false
	}
	return true
}

// chain returns the chain of key's digest, or nil when nothing is queued
// on it. It probes last at most once a key: the memo keeps where it found
// the chain for the queue call that follows.
func (b *Batch) chain(key *Key) *chain {
	m := &b.memo
	d := m.digest
	if !m.holds(key) { // memoize, with its test inlined
		d = b.digestKey(key)
	}
	if m.pos < 0 || m.gen != b.last.gen {
		if m.pos = b.last.find(d); m.pos < 0 {
			return nil
		}
		m.gen = b.last.gen
	}
	return &b.last.slots[m.pos].v
}

// push queues op, whose target is *key, on the chain of its key's digest
// and returns its position: one probe of last, none when the key was
// just looked up; write is whether op writes its key. The caller passes
// the address of op's own key: asking op (Target, through the interface)
// cost a dynamic call and a copy of the key per queued operation, a tenth
// of push, and a Key passed by value, six words, was spilled to be
// memoized.
func (b *Batch) push(key *Key, op Op, write bool) int32 {
	m := &b.memo
	d := m.digest
	if !m.holds(key) { // memoize, with its test inlined
		d = b.digestKey(key)
	}
	if m.pos < 0 || m.gen != b.last.gen {
		pos, fresh := b.last.ref(d)
		if fresh {
			b.last.slots[pos].v = chain{last: -1, write: -1}
		}
		m.pos, m.gen = pos, b.last.gen
	}
	c := &b.last.slots[m.pos].v
	pos := int32(len(b.ops))
	b.prev = append(b.prev, c.last)
	c.last = pos
	if write {
		c.write = pos
	}
	b.ops = append(b.ops, op)
	return pos
}

// Claimed is the result of a Claim.
type Claimed struct {
	First bool   // the key did not exist; it now holds the claimed value
	Prior []byte // when not First: the value the key held
}

// ClaimOp sets Key to Value unless Key exists (SET NX GET). It is how an
// event id is deduplicated and how its verdict is found again on a retry.
type ClaimOp struct {
	Key    Key
	Value  []byte
	TTL    time.Duration
	Result Future[Claimed]
}

// Fail implements Op.
func (o *ClaimOp) Fail(err error) { o.Result.Fail(err) }

// Target implements Op.
func (o *ClaimOp) Target() Key { return o.Key }

// Claim queues a ClaimOp.
func (b *Batch) Claim(key Key, value []byte, ttl time.Duration) *Future[Claimed] {
	op := b.claims.Next(b.chunkSize())
	op.Key, op.Value, op.TTL = key, value, ttl
	b.push(&op.Key, op, true)
	return &op.Result
}

// ClaimUnique is Claim for a key that no other operation of the batch
// names, before it or after it: the engine's dedupe claim of an event,
// whose key is the event's own and which it queues once per event of a
// batch. The claim is queued in its place among the batch's operations,
// as Claim queues it, but is not indexed: OnKey, LastWrite and
// SharedWindowRead do not see it. Nothing looks such a key up, and
// indexing it hashed an identity, an event's own string that no other
// key shares, for every event of a batch (a twelfth of the batch's
// look-ups and a third of its identity hashes), and took a slot of the
// index for each.
func (b *Batch) ClaimUnique(key Key, value []byte, ttl time.Duration) *Future[Claimed] {
	op := b.claims.Next(b.chunkSize())
	op.Key, op.Value, op.TTL = key, value, ttl
	b.prev = append(b.prev, -1)
	b.ops = append(b.ops, op)
	return &op.Result
}

// PutOp sets Key to Value, replacing what it held.
type PutOp struct {
	Key    Key
	Value  []byte
	TTL    time.Duration
	Result Future[struct{}]
}

// Fail implements Op.
func (o *PutOp) Fail(err error) { o.Result.Fail(err) }

// Target implements Op.
func (o *PutOp) Target() Key { return o.Key }

// Put queues a PutOp.
func (b *Batch) Put(key Key, value []byte, ttl time.Duration) *Future[struct{}] {
	op := b.puts.Next(b.chunkSize())
	op.Key, op.Value, op.TTL = key, value, ttl
	b.push(&op.Key, op, true)
	return &op.Result
}

// GetOp reads the value of Key: nil when the key does not exist.
type GetOp struct {
	Key    Key
	Result Future[[]byte]
}

// Fail implements Op.
func (o *GetOp) Fail(err error) { o.Result.Fail(err) }

// Target implements Op.
func (o *GetOp) Target() Key { return o.Key }

// Get queues a GetOp.
func (b *Batch) Get(key Key) *Future[[]byte] {
	op := b.gets.Next(b.chunkSize())
	op.Key = key
	b.push(&op.Key, op, false)
	return &op.Result
}

// WindowAddOp records Member at event time At in a time-windowed set and
// counts the distinct members whose time lies in Count.
//
// Each member keeps the latest time it was added at, so adding the same
// member at the same time twice changes nothing (retries are harmless).
// Members whose time is older than At−TTL are dropped; the key expires TTL
// after its last write.
type WindowAddOp struct {
	Key    Key
	Member string
	At     time.Time
	Count  Span
	TTL    time.Duration
	Result Future[int]
}

// Fail implements Op.
func (o *WindowAddOp) Fail(err error) { o.Result.Fail(err) }

// Target implements Op.
func (o *WindowAddOp) Target() Key { return o.Key }

// WindowAdd queues a WindowAddOp.
func (b *Batch) WindowAdd(key Key, member string, at time.Time, count Span, ttl time.Duration) *Future[int] {
	op := b.windowAdds.Next(b.chunkSize())
	op.Key, op.Member, op.At, op.Count, op.TTL = key, member, at, count, ttl
	b.push(&op.Key, op, true)
	return &op.Result
}

// WindowAddReadOp is a WindowAddOp and a WindowReadOp of the same key and
// span as one atomic step: it records Member at At and returns the window
// over Span as it is after the add, with up to Limit members. It saves a
// detector that needs both the count and a sample a second operation.
type WindowAddReadOp struct {
	Key    Key
	Member string
	At     time.Time
	Span   Span
	Limit  int
	TTL    time.Duration
	Result Future[Window]
}

// Fail implements Op.
func (o *WindowAddReadOp) Fail(err error) { o.Result.Fail(err) }

// Target implements Op.
func (o *WindowAddReadOp) Target() Key { return o.Key }

// WindowAddRead queues a WindowAddReadOp.
func (b *Batch) WindowAddRead(key Key, member string, at time.Time, span Span, limit int, ttl time.Duration) *Future[Window] {
	op := b.windowAddReads.Next(b.chunkSize())
	op.Key, op.Member, op.At, op.Span, op.Limit, op.TTL = key, member, at, span, limit, ttl
	b.push(&op.Key, op, true)
	return &op.Result
}

// WindowPairAddReadOp is a WindowAddReadOp on each half of a window
// pair, in one atomic step at one time and TTL: it records Members[h] at
// At in half h, drops each half's members older than At−TTL, and returns
// each half over Spans[h] as it is after the add, with up to Limit
// members. A pair is two windowed sets that share a key: a detector that
// keeps windows on two grids (access-key-enumeration's two aligned windows
// per scale, which always fall on opposite grids) adds to both with every
// event, and one operation on one key costs a store one lookup, not two.
//
// The halves belong to the pair: no other operation names them. Key holds
// a pair only, as a key holds one kind; a store may keep the halves as
// windowed sets of their own under PairHalf(Key, h) (the Redis layouts
// do, so that data written by two WindowAddReads of those keys reads on),
// and WindowRead of Key itself is not a read of either.
type WindowPairAddReadOp struct {
	Key     Key
	Members [2]string
	At      time.Time
	Spans   [2]Span
	Limit   int
	TTL     time.Duration
	Result  Future[[2]Window]
}

// Fail implements Op.
func (o *WindowPairAddReadOp) Fail(err error) { o.Result.Fail(err) }

// Target implements Op.
func (o *WindowPairAddReadOp) Target() Key { return o.Key }

// WindowPairAddRead queues a WindowPairAddReadOp.
func (b *Batch) WindowPairAddRead(key Key, members [2]string, at time.Time, spans [2]Span, limit int, ttl time.Duration) *Future[[2]Window] {
	op := b.windowPairs.Next(b.chunkSize())
	op.Key, op.Members, op.At, op.Spans, op.Limit, op.TTL = key, members, at, spans, limit, ttl
	b.push(&op.Key, op, true)
	return &op.Result
}

// PairHalf is the key of half h (0 or 1) of the window pair at k, for a
// store that keeps the halves as windowed sets of their own: k's name and
// ":0" or ":1".
func PairHalf(k Key, h int) Key {
	k.Name = pairHalfNames.of(k.Name)[h&1]
	return k
}

// Window is what a WindowReadOp sees.
type Window struct {
	Count   int      // distinct members whose time lies in the span
	Members []string // up to Limit of them, earliest first (ties by member)
}

// WindowReadOp reads the members of a time-windowed set whose time lies in
// Span, without writing.
type WindowReadOp struct {
	Key    Key
	Span   Span
	Limit  int
	Result Future[Window]
}

// Fail implements Op.
func (o *WindowReadOp) Fail(err error) { o.Result.Fail(err) }

// Target implements Op.
func (o *WindowReadOp) Target() Key { return o.Key }

// WindowRead queues a WindowReadOp.
func (b *Batch) WindowRead(key Key, span Span, limit int) *Future[Window] {
	pos, _ := b.reads.ref(readDigest(b.memoize(&key), span, limit))
	return b.queueWindowRead(pos, &key, &span, limit)
}

// queueWindowRead queues a WindowReadOp and records it as the latest
// read of its key, span and limit in b.reads' slot at rpos.
// key and span are passed by address: six words each, which every call
// moved through registers and spilled.
func (b *Batch) queueWindowRead(rpos int, key *Key, span *Span, limit int) *Future[Window] {
	op := b.windowReads.Next(b.chunkSize())
	op.Key, op.Span, op.Limit = *key, *span, limit
	b.reads.slots[rpos].v = b.push(&op.Key, op, false)
	return &op.Result
}

// SharedWindowRead is WindowRead, unless the batch already holds a read
// of key over the same span (the same instants) with the same limit that
// no write of key follows: a WindowReadOp queued since the key's last
// write, or a WindowAddReadOp that is that write (it answers with the
// window after its add). Then that read's future is returned and nothing
// is queued: its answer is the one this read would get, on any store.
// It is one lookup, however many reads of the key the batch holds.
func (b *Batch) SharedWindowRead(key Key, span Span, limit int) *Future[Window] {
	write := int32(-1)
	if c := b.chain(&key); c != nil {
		write = c.write
	}
	rpos, fresh := b.reads.ref(readDigest(b.memo.digest, span, limit))
	if fresh {
		b.reads.slots[rpos].v = -1 // no read yet; queueWindowRead sets it
	}
	if pos := b.reads.slots[rpos].v; pos >= 0 && pos >= write {
		if o := b.ops[pos].(*WindowReadOp); sameKey(&o.Key, &key) && o.Limit == limit && sameSpan(&o.Span, &span) {
			return &o.Result
		}
	}
	// The key's latest write, when it is a WindowAddReadOp, answers with
	// the window after its add: reads after it that b.reads misses are
	// none of this span and limit.
	if write >= 0 {
		if o, ok := b.ops[write].(*WindowAddReadOp); ok && sameKey(&o.Key, &key) && o.Limit == limit && sameSpan(&o.Span, &span) {
			return &o.Result
		}
	}
	return b.queueWindowRead(rpos, &key, &span, limit)
}

// readDigest mixes a key digest with a span's instants and a limit. Two
// reads it confuses only share less: SharedWindowRead compares the read
// it finds in full. Each part is multiplied by an odd constant of its own
// and the sum finalised once: a finaliser per part was a fifth of what
// queuing a read cost.
func readDigest(d uint64, span Span, limit int) uint64 {
	h := d +
		uint64(span.From.Unix())*0x9e3779b97f4a7c15 + uint64(span.From.Nanosecond())*0xc2b2ae3d27d4eb4f +
		uint64(span.To.Unix())*0x165667b19e3779f9 + uint64(span.To.Nanosecond())*0xd6e8feb86659fd93 +
		uint64(limit)*0xff51afd7ed558ccd
	return mix(h)
}

// mix is a 64-bit finaliser (splitmix64's): every input bit moves every
// output bit.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

// sameSpan reports whether a and b are the same instants. They are
// passed by address: a Span is six words.
func sameSpan(a, b *Span) bool { return a.From.Equal(b.From) && a.To.Equal(b.To) }

// Novelty is the result of a NoveltyAdd.
type Novelty struct {
	New  bool // Member was not in the set (within retention) before this add
	Size int  // members in the set before this add, within retention
}

// NoveltyAddOp adds Member to a novelty set at event time At and reports
// whether it was new. Each member keeps the latest time it was seen; members
// last seen before At−TTL are forgotten, so the set means "seen in the last
// TTL". The key expires TTL after its last write.
//
// Owner, when set, names the event adding the member (an event adds at
// its own time: one owner, one At) and makes the answer retry-safe: if this owner's add is the one that made the member new, a
// later add by the same owner (a retry of that event, within
// NoveltyRetryWindow) is New again, its Size counting the other members. Without it,
// a retry whose first attempt ran in the store but whose reply was lost
// would find the member present and lose the novelty for good.
type NoveltyAddOp struct {
	Key    Key
	Member string
	Owner  string
	At     time.Time
	TTL    time.Duration
	Result Future[Novelty]
}

// NoveltyRetryWindow is how long a novelty set remembers which owner
// introduced a member, for retries (see NoveltyAddOp.Owner); retries come
// within the dedupe horizon, an hour by default.
const NoveltyRetryWindow = 2 * time.Hour

// Fail implements Op.
func (o *NoveltyAddOp) Fail(err error) { o.Result.Fail(err) }

// Target implements Op.
func (o *NoveltyAddOp) Target() Key { return o.Key }

// NoveltyAdd queues a NoveltyAddOp without an owner.
func (b *Batch) NoveltyAdd(key Key, member string, at time.Time, ttl time.Duration) *Future[Novelty] {
	return b.NoveltyAddBy(key, member, "", at, ttl)
}

// NoveltyAddBy queues a NoveltyAddOp by owner, retry-safe (see
// NoveltyAddOp.Owner).
func (b *Batch) NoveltyAddBy(key Key, member, owner string, at time.Time, ttl time.Duration) *Future[Novelty] {
	op := b.novelties.Next(b.chunkSize())
	op.Key, op.Member, op.Owner, op.At, op.TTL = key, member, owner, at, ttl
	b.push(&op.Key, op, true)
	return &op.Result
}

// Keep says which of two times a mark keeps.
type Keep int

const (
	KeepLatest   Keep = iota // the mark moves forward only (last activity)
	KeepEarliest             // the mark moves backward only (first seen)
)

// Mark is a remembered event time.
type Mark struct {
	Set bool      // a mark existed
	At  time.Time // its time, when Set
}

// MarkOp records event time At under Key, keeping the latest or earliest of
// the stored and the new time, and returns the mark as it was before.
// Both choices make retries harmless. The key expires TTL after the write.
type MarkOp struct {
	Key    Key
	At     time.Time
	Keep   Keep
	TTL    time.Duration
	Result Future[Mark]
}

// Fail implements Op.
func (o *MarkOp) Fail(err error) { o.Result.Fail(err) }

// Target implements Op.
func (o *MarkOp) Target() Key { return o.Key }

// Mark queues a MarkOp.
func (b *Batch) Mark(key Key, at time.Time, keep Keep, ttl time.Duration) *Future[Mark] {
	op := b.marks.Next(b.chunkSize())
	op.Key, op.At, op.Keep, op.TTL = key, at, keep, ttl
	b.push(&op.Key, op, true)
	return &op.Result
}

// ReadMarkOp reads a mark without writing.
type ReadMarkOp struct {
	Key    Key
	Result Future[Mark]
}

// Fail implements Op.
func (o *ReadMarkOp) Fail(err error) { o.Result.Fail(err) }

// Target implements Op.
func (o *ReadMarkOp) Target() Key { return o.Key }

// ReadMark queues a ReadMarkOp.
func (b *Batch) ReadMark(key Key) *Future[Mark] {
	op := b.readMarks.Next(b.chunkSize())
	op.Key = key
	b.push(&op.Key, op, false)
	return &op.Result
}

// BucketAddOp adds Member to the time bucket holding event time At and
// returns the distinct-member counts of the History buckets ending with that
// bucket, oldest first. Buckets are aligned to multiples of Width since the
// Unix epoch. Counting distinct members (an event id, say) rather than
// increments makes retries harmless. Buckets that end before At−TTL are
// dropped; the key expires TTL after its last write.
type BucketAddOp struct {
	Key     Key
	Member  string
	At      time.Time
	Width   time.Duration
	History int
	TTL     time.Duration
	Result  Future[[]int]
}

// Fail implements Op.
func (o *BucketAddOp) Fail(err error) { o.Result.Fail(err) }

// Target implements Op.
func (o *BucketAddOp) Target() Key { return o.Key }

// BucketAdd queues a BucketAddOp.
func (b *Batch) BucketAdd(key Key, member string, at time.Time, width time.Duration, history int, ttl time.Duration) *Future[[]int] {
	op := b.bucketAdds.Next(b.chunkSize())
	op.Key, op.Member, op.At, op.Width, op.History, op.TTL = key, member, at, width, history, ttl
	b.push(&op.Key, op, true)
	return &op.Result
}

// BucketReadOp reads the counts of the History buckets ending with the bucket
// holding At, oldest first, without writing.
type BucketReadOp struct {
	Key     Key
	At      time.Time
	Width   time.Duration
	History int
	Result  Future[[]int]
}

// Fail implements Op.
func (o *BucketReadOp) Fail(err error) { o.Result.Fail(err) }

// Target implements Op.
func (o *BucketReadOp) Target() Key { return o.Key }

// BucketRead queues a BucketReadOp.
func (b *Batch) BucketRead(key Key, at time.Time, width time.Duration, history int) *Future[[]int] {
	op := b.bucketReads.Next(b.chunkSize())
	op.Key, op.At, op.Width, op.History = key, at, width, history
	b.push(&op.Key, op, false)
	return &op.Result
}

// ThrottleOp takes Key for Owner for TTL: the result is true when the key was
// free (it is now Owner's) or is already held by Owner, so a retried event
// keeps the alert it won the first time. It is how "one alert per key per
// period" is kept across replicas.
type ThrottleOp struct {
	Key    Key
	Owner  string
	TTL    time.Duration
	Result Future[bool]
}

// Fail implements Op.
func (o *ThrottleOp) Fail(err error) { o.Result.Fail(err) }

// Target implements Op.
func (o *ThrottleOp) Target() Key { return o.Key }

// Throttle queues a ThrottleOp.
func (b *Batch) Throttle(key Key, owner string, ttl time.Duration) *Future[bool] {
	op := &ThrottleOp{Key: key, Owner: owner, TTL: ttl}
	b.push(&op.Key, op, true)
	return &op.Result
}

// BucketStart returns the start of the bucket of width w that holds t.
// w must be positive.
//
// A width of whole seconds (every width detectors use: minutes, hours,
// days) is worked out in seconds: a bucket of whole seconds starts at a
// whole second, the bucket of t is the one of its second (t.Unix() rounds
// down, as the buckets do), and the start needs no nanoseconds. It costs
// half the instructions of the nanosecond arithmetic (bucketStartNanos),
// which detectors asked for 400k times over the realistic month; for
// times whose nanoseconds an int64 holds, the two agree to the bit
// (TestBucketStartIsNanos, FuzzBucketStart), and for the others
// (beyond 1678–2262) the nanosecond one, as it always was, answers.
func BucketStart(t time.Time, w time.Duration) time.Time {
	secs := int64(w / time.Second)
	if sec := t.Unix(); secs > 0 && time.Duration(secs)*time.Second == w && -maxBucketSecond < sec && sec < maxBucketSecond {
		start := sec - sec%secs
		if sec < 0 && sec%secs != 0 {
			start -= secs
		}
		return time.Unix(start, 0).UTC()
	}
	return bucketStartNanos(t, w)
}

// maxBucketSecond bounds the seconds BucketStart works out in seconds:
// their nanoseconds fit an int64, as bucketStartNanos needs to agree.
const maxBucketSecond = 9e9

// bucketStartNanos is BucketStart in Unix nanoseconds: of any width, and
// of a time whose nanoseconds an int64 does not hold as UnixNano leaves
// them.
func bucketStartNanos(t time.Time, w time.Duration) time.Time {
	ns := t.UnixNano()
	start := ns - ns%int64(w)
	if ns < 0 && ns%int64(w) != 0 {
		start -= int64(w)
	}
	return time.Unix(0, start).UTC()
}

// Reset empties b for reuse and keeps the memory it grew: a caller that
// queues a batch per micro-batch (the engine) reuses one rather than growing
// a fresh index by key, operation by operation, every time. Futures
// handed out before Reset stay valid; b no longer holds them.
func (b *Batch) Reset() {
	for _, c := range b.chunks() {
		c.Forget()
	}
	b.reset()
}

// Recycle empties b as Reset does, and also takes back the storage of the
// operations it held for the operations queued next: every future b
// handed out before is invalid from then on, and may change. It is for an
// owner of b that holds every reader of its futures, and knows none is
// left: the engine's scratch batch, once a micro-batch's verdicts are
// out. A micro-batch queues a few thousand operations, and storage for
// them afresh was a third of the engine's bytes allocated per event.
func (b *Batch) Recycle() {
	for _, c := range b.chunks() {
		c.Recycle()
	}
	b.reset()
}

// chunks are b's chunks of every kind.
func (b *Batch) chunks() [12]interface {
	Forget()
	Recycle()
} {
	return [...]interface {
		Forget()
		Recycle()
	}{&b.claims, &b.windowAdds, &b.windowAddReads, &b.windowPairs, &b.windowReads,
		&b.novelties, &b.marks, &b.bucketAdds, &b.gets, &b.puts, &b.readMarks, &b.bucketReads}
}

func (b *Batch) reset() {
	clear(b.ops)
	b.ops = b.ops[:0]
	b.last.reset()
	b.reads.reset()
	b.prev = b.prev[:0]
	// The names' hashes stay: they are the same in every batch.
	b.memo = memo{pos: -1}
}
