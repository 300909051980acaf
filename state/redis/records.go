package redis

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/internal/record"
)

// The record layout (Options.Layout = LayoutRecord) keeps all state of one
// identity as one Redis string, a record (state/internal/record): Redis
// only stores bytes, and the scorer does the work. Exec groups a batch's
// operations by identity, takes each identity's record from a replica-local
// cache or, on a miss, from one pipelined GET, applies the operations in Go
// and writes each record back with casScript (records_write.go): SET when the record's
// version is still the one read, else the current bytes come back and the
// identity's operations are applied again to them. No answer is handed out
// before its record was stored (or, for reads, found current).

// maxRecordPasses bounds how often Exec writes one identity's record
// against other replicas' concurrent writes before giving up on it. Every
// pass some replica's write lands, so contention delays rather than blocks;
// between passes a replica that lost waits a random while, growing with
// the passes up to maxConflictWait, so that the same one does not lose
// every race.
const (
	maxRecordPasses = 32
	maxConflictWait = 8 * time.Millisecond
)

// Cache bounds: past either, records are dropped at random until within.
const (
	maxCachedRecords = 1 << 16
	maxCachedBytes   = 64 << 20
)

// lockStripes serialise the batches of one replica on one identity.
const lockStripes = 1024

// records is the replica-local side of the record layout.
type records struct {
	seed  maphash.Seed
	locks [lockStripes]sync.Mutex

	mu     sync.Mutex
	cache  map[string]*cachedRecord
	cached int64 // encoded bytes of the cached records

	hits, misses, conflicts, writes, checks atomic.Int64
	missesFound                             atomic.Int64
	sideReads, sideWrites, pageWrites       atomic.Int64
	sideAppends, pageAppends                atomic.Int64
	largest                                 atomic.Int64
}

// cachedRecord is the last version of a record this replica read or wrote.
type cachedRecord struct {
	exists  bool
	version [record.VersionSize]byte
	rec     *record.Record
	size    int
}

// RecordStats are the figures of the record layout since the store opened.
type RecordStats struct {
	CacheHits, CacheMisses int64 // identities found in, or missing from, the cache
	// MissesFound are the misses whose record existed: the write assuming
	// none was refused and answered with the record (see fetch).
	MissesFound            int64
	Conflicts              int64 // writes refused for another replica's newer version, retried
	Writes, Checks         int64 // record writes, and version checks of unchanged records
	SideReads              int64 // side records (pages and large entries) read
	SideWrites, PageWrites int64 // large entries' side records, and pages, written
	SideAppends            int64 // of SideWrites, those that appended to the side record
	PageAppends            int64 // of PageWrites, those that appended to the page
	LargestRecord          int64 // bytes of the largest value written: a record, a page or a large entry
}

// RecordStats returns the record layout's figures; zero on the keys layout.
func (s *Store) RecordStats() RecordStats {
	r := s.recs
	if r == nil {
		return RecordStats{}
	}
	return RecordStats{CacheHits: r.hits.Load(), CacheMisses: r.misses.Load(), Conflicts: r.conflicts.Load(),
		Writes: r.writes.Load(), Checks: r.checks.Load(), LargestRecord: r.largest.Load(),
		SideReads: r.sideReads.Load(), SideWrites: r.sideWrites.Load(), PageWrites: r.pageWrites.Load(),
		SideAppends: r.sideAppends.Load(), PageAppends: r.pageAppends.Load(), MissesFound: r.missesFound.Load()}
}

// take removes key's record from the cache and returns it, or nil.
func (r *records) take(key string) *cachedRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cache[key]
	if c != nil {
		delete(r.cache, key)
		r.cached -= int64(c.size)
	}
	return c
}

// keep caches c under key, dropping others at random past the bounds.
func (r *records) keep(key string, c *cachedRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cache == nil {
		r.cache = make(map[string]*cachedRecord)
	}
	// Checked before ranging too: starting a range over a map of
	// thousands costs more than the rest of keep, and is seldom needed.
	full := func() bool { return len(r.cache) >= maxCachedRecords || r.cached+int64(c.size) > maxCachedBytes }
	if full() {
		for k, old := range r.cache {
			if !full() {
				break
			}
			delete(r.cache, k)
			r.cached -= int64(old.size)
		}
	}
	r.cache[key] = c
	r.cached += int64(c.size)
}

// identity is one batch's work on one identity's record.
type identity struct {
	key     string // the record's Redis key
	ops     []state.Op
	names   []uint64 // the digests of ops' key names (record.Names)
	results []record.Result
	cur     *cachedRecord
	send    []byte // the record to write, or the segment to append; nil: check only
	append  bool   // send is appended (record.Write.Append)
	format  byte   // with append: the format byte to set after the version; 0: kept
	pxat    int64  // its expiry, Unix ms; 0: kept (an append only)
	sides   []record.Side
	refetch bool // the record is to be read again: a side record was newer, or gone
	// guessed: cur is an empty record assumed on a cache miss instead of
	// read (see fetch); guessRefused: the write on it found the record
	// there after all, a miss rather than a lost race.
	guessed, guessRefused bool
	// gone is the version of the record that named a side record found
	// missing: read again at that version, the side record expired (or
	// was lost), while a newer version means it was replaced.
	gone    [record.VersionSize]byte
	goneSet bool
	next    [record.VersionSize]byte
	// The casScript ARGV of its write, kept here so that the call passes
	// pointers (see argBytes): the version it expects, the bytes to send,
	// and the new version with, on an append, the format byte (nextBuf).
	expectArg, sendArg, nextArg argBytes
	nextBuf                     [record.VersionSize + 1]byte
	applied                     bool // results are computed on cur
	done                        bool // resolved, or failed
	// reply is the identity's part of its casScript call's reply, or
	// replyErr the call's error.
	reply    any
	replyErr error
}

// recordKey renders the key of an identity's record.
func recordKey(prefix string, k state.Key) string {
	return redisKey(prefix, state.Key{Tenant: k.Tenant, Identity: k.Identity, Name: "rec"})
}

// execScratch is what one Exec on the record layout works in: the
// grouping of its operations by identity, the identities themselves, the
// digests of their operations' names and the lock stripes they take. At
// the open loop's batches of a few events these were about twenty
// allocations of every batch (a map, nine slices, the unlock closure);
// Execs now take a scratch from scratchPool and give it back cleared.
type execScratch struct {
	index   map[idTag]int32 // each identity's place in keys
	keys    []string        // each identity's record key
	counts  []int           // and its number of operations
	of      []int32         // each operation's identity
	ids     []identity
	out     []*identity
	all     []state.Op // the operations, identity by identity
	names   []uint64
	stripes []int // the lock stripes taken, in order
}

// idTag is an identity: its tenant and name.
type idTag struct{ tenant, identity string }

var scratchPool = sync.Pool{New: func() any { return &execScratch{index: make(map[idTag]int32)} }}

// maxPooledOps bounds the scratch scratchPool keeps: one grown by a
// batch of thousands of operations is left to the collector.
const maxPooledOps = 1 << 14

// release clears what the scratch refers to (operations, records, the
// bytes written) and gives it back to the pool.
func (sc *execScratch) release() {
	if cap(sc.all) > maxPooledOps || cap(sc.ids) > maxPooledOps {
		return
	}
	clear(sc.index)
	clear(sc.keys)
	clear(sc.ids)
	clear(sc.out)
	clear(sc.all)
	sc.keys, sc.counts, sc.of, sc.ids, sc.out, sc.all = sc.keys[:0], sc.counts[:0], sc.of[:0], sc.ids[:0], sc.out[:0], sc.all[:0]
	sc.names, sc.stripes = sc.names[:0], sc.stripes[:0]
	scratchPool.Put(sc)
}

// grow returns s resliced to n, reallocated when its capacity is short;
// the elements are whatever the slice held (release cleared them).
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// byIdentity groups ops by identity, in order of first appearance, queue
// order within each, in sc.
func byIdentity(sc *execScratch, prefix string, ops []state.Op) []*identity {
	// Two passes: the first finds each operation's identity, the second
	// hands each identity its operations from one slice sized by the
	// first, where appending to each identity's own grew it a few times.
	// About four operations an identity at 32-event batches.
	index := sc.index
	keys, counts := sc.keys[:0], sc.counts[:0]
	of := grow(sc.of, len(ops))
	var last idTag
	j := int32(-1)
	for i, op := range ops {
		k := op.Target()
		// A detector queues several operations on one identity in a row:
		// compare with the last before looking up.
		if t := (idTag{k.Tenant, k.Identity}); j < 0 || t != last {
			var ok bool
			if j, ok = index[t]; !ok {
				j = int32(len(keys))
				index[t] = j
				keys = append(keys, recordKey(prefix, k))
				counts = append(counts, 0)
			}
			last = t
		}
		of[i] = j
		counts[j]++
	}
	ids := grow(sc.ids, len(keys))
	out := grow(sc.out, len(keys))
	all := grow(sc.all, len(ops))
	off := 0
	for j := range ids {
		ids[j].key, ids[j].ops = keys[j], all[off:off:off+counts[j]]
		off += counts[j]
		out[j] = &ids[j]
	}
	for i, op := range ops {
		id := out[of[i]]
		id.ops = append(id.ops, op)
	}
	sc.keys, sc.counts, sc.of, sc.ids, sc.out, sc.all = keys, counts, of, ids, out, all
	return out
}

// lock locks the stripes of ids in order, noting them in sc for unlock.
func (r *records) lock(sc *execScratch, ids []*identity) {
	stripes := sc.stripes[:0]
	for _, id := range ids {
		stripes = append(stripes, int(maphash.String(r.seed, id.key)%lockStripes))
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, i := range stripes {
		r.locks[i].Lock()
	}
	sc.stripes = stripes
}

// unlock unlocks the stripes lock took.
func (r *records) unlock(sc *execScratch) {
	for _, i := range sc.stripes {
		r.locks[i].Unlock()
	}
}

// execRecords is Exec on the record layout.
func (s *Store) execRecords(ctx context.Context, ops []state.Op) error {
	sc := scratchPool.Get().(*execScratch)
	defer sc.release()
	ids := byIdentity(sc, s.prefix, ops)
	s.recs.lock(sc, ids)
	defer s.recs.unlock(sc)
	results := takeResults(len(ops))
	defer putResults(results)
	off := 0
	names := slices.Grow(sc.names[:0], len(ops))
	for _, id := range ids {
		id.results = (*results)[off : off : off+len(id.ops)]
		off += len(id.ops)
		names = record.Names(id.ops, names)
		id.names = names[len(names)-len(id.ops):]
	}
	sc.names = names
	now := time.Now().UnixNano()
	wait := false
	for pass := 0; pass < maxRecordPasses && !allDone(ids); pass++ {
		if wait {
			if err := backOff(ctx, pass); err != nil {
				return s.recordOutage(ctx, ops, err)
			}
		}
		wait = true
		for _, id := range ids {
			id.guessRefused = false
		}
		if err := s.fetch(ctx, ids, now); err != nil {
			return s.recordOutage(ctx, ops, err)
		}
		if err := s.attachSides(ctx, ids, now); err != nil {
			return s.recordOutage(ctx, ops, err)
		}
		var pending []*identity
		for _, id := range ids {
			if !id.done && id.cur != nil {
				id.apply(now)
				pending = append(pending, id)
			}
		}
		if len(pending) == 0 {
			continue // a side record was newer than its record: read both again
		}
		if err := s.cas(ctx, pending); err != nil {
			return s.recordOutage(ctx, ops, err)
		}
		for _, id := range pending {
			if err := s.settle(id, now); err != nil {
				id.fail(err)
			}
			// The pipeline returned: go-redis holds the pages' bytes no more.
			record.Release(id.sides)
			id.sides = nil
		}
		wait = raced(ids)
	}
	var err error
	for _, id := range ids {
		if !id.done {
			err = fmt.Errorf("redis: exec: %w: record %s changed by other replicas %d times in a row", state.ErrUnavailable, id.key, maxRecordPasses)
			id.fail(err)
		}
	}
	return err
}

// resultsPool holds the answers of batches' operations while they are
// computed: Resolve copies them into the operations' futures, so a later
// batch reuses the slice instead of allocating an answer per operation.
var resultsPool = sync.Pool{New: func() any { return new([]record.Result) }}

// maxPooledResults bounds the slices resultsPool keeps.
const maxPooledResults = 1 << 14

// takeResults returns a slice of n zero answers.
func takeResults(n int) *[]record.Result {
	rp := resultsPool.Get().(*[]record.Result)
	if cap(*rp) < n {
		*rp = make([]record.Result, n)
	}
	*rp = (*rp)[:n]
	return rp
}

// putResults zeroes the answers (they hold the futures' slices) and keeps
// the slice for a later batch. It clears the n taken, not the capacity: a
// one-event batch after one of thousands must not clear thousands.
func putResults(rp *[]record.Result) {
	if cap(*rp) > maxPooledResults {
		return
	}
	clear(*rp)
	resultsPool.Put(rp)
}

// backOff waits a random while before pass, longer as passes go by.
func backOff(ctx context.Context, pass int) error {
	limit := min(time.Duration(pass)*250*time.Microsecond, maxConflictWait)
	t := time.NewTimer(rand.N(limit) + 1)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// raced reports whether an identity is to be written again for another
// replica's write, rather than only because its record, missing from the
// cache and assumed absent, was there: only a race calls for a wait.
func raced(ids []*identity) bool {
	for _, id := range ids {
		if !id.done && !id.guessRefused {
			return true
		}
	}
	return false
}

func allDone(ids []*identity) bool {
	for _, id := range ids {
		if !id.done {
			return false
		}
	}
	return true
}

// apply computes the identity's answers on its current record, unless they
// are computed already (a pass re-sent after NOSCRIPT), and what to write.
func (id *identity) apply(now int64) {
	if id.applied {
		return
	}
	id.applied = true
	if cap(id.results) < len(id.ops) {
		id.results = make([]record.Result, 0, len(id.ops))
	}
	id.results = id.results[:len(id.ops)]
	clear(id.results) // a pass after a conflict computes them again
	changed := false
	for i, op := range id.ops {
		changed = id.cur.rec.ApplyNamed(op, id.names[i], now, &id.results[i]) || changed
	}
	id.send, id.append, id.sides = nil, false, nil
	if !changed {
		return
	}
	binaryPut(id.next[:], rand.Uint64())
	w := id.cur.rec.EncodeWrite(id.next, now)
	id.send, id.append, id.pxat, id.sides, id.format = w.Data, w.Append, w.PXAT, w.Sides, w.Format
}

// sideKey is the key of a side record of the record at main.
func sideKey(main, suffix string) string { return main + ":" + suffix }

func binaryPut(b []byte, v uint64) {
	for i := range b {
		b[i] = byte(v >> (56 - 8*i))
	}
}

// fail fails the identity's operations that are not resolved.
func (id *identity) fail(err error) {
	for _, op := range id.ops {
		op.Fail(err)
	}
	id.done = true
}

// recordOutage fails what is not resolved with the outage's error and
// returns it. Records whose fate is unknown were taken out of the cache and
// are not put back: the next batch reads them afresh.
func (s *Store) recordOutage(ctx context.Context, ops []state.Op, cause error) error {
	err := s.outageError(ctx, cause)
	state.FailAll(ops, err)
	return err
}

// GroupsIdentities implements state.IdentityGrouper: true on the record
// layout, where state placed beside an identity's costs no write of its own.
func (s *Store) GroupsIdentities() bool { return s.recs != nil }

// DescribeRecord summarises a record's bytes, as read from the record
// layout's key of an identity, for logs and benchmarks.
func DescribeRecord(b []byte) string { return record.Describe(b) }
