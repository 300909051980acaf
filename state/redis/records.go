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

	goredis "github.com/redis/go-redis/v9"

	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/internal/record"
)

// The record layout (Options.Layout = LayoutRecord) keeps all state of one
// identity as one Redis string, a record (state/internal/record): Redis
// only stores bytes, and the scorer does the work. Exec groups a batch's
// operations by identity, takes each identity's record from a replica-local
// cache or, on a miss, from one pipelined GET, applies the operations in Go
// and writes each record back with casScript: SET when the record's
// version is still the one read, else the current bytes come back and the
// identity's operations are applied again to them. No answer is handed out
// before its record was stored (or, for reads, found current).

// casScript writes an identity's record, KEYS[1], when its first 8
// bytes, its version, are still ARGV[1] ("" for a record that does not
// exist): ARGV[2] is its new bytes ("" leaves it: a record that did not
// change is only checked) and ARGV[3] its expiry (Unix ms). When ARGV[5]
// is not "", ARGV[2] is a segment to APPEND to the record (a record in
// the log format: see record.EncodeWrite) and ARGV[5] the version SETRANGE
// writes over the old; its expiry is then left when ARGV[3] is "0".
//
// The side records that changed with it (pages, large entries) are not
// passed through the script: each version is a key of its own, SET in
// the same pipeline just before the call (a 13 KB value costs Redis about
// 4 µs as a plain SET and 20 µs as a script argument). KEYS[2 .. 1+n],
// n = ARGV[4], are the keys of the versions they replace, deleted on
// success; KEYS[2+n ...] the new versions: the script refuses to store a
// record naming one that is missing (a SET that failed), and deletes them
// on a version mismatch, which leaves nothing behind but what a crash
// between the SETs and the call would (orphans that expire with their
// PXAT). Side records need no check of their own: only a record whose
// version check passed names them.
//
// It returns {1} on success, {0, the record's current bytes} on a version
// mismatch, and an error when a new side record is missing.
var casScript = newScript("cas", `
local old = tonumber(ARGV[4])
if redis.call('GETRANGE', KEYS[1], 0, 7) ~= ARGV[1] then
  for i = 2 + old, #KEYS do
    redis.call('UNLINK', KEYS[i])
  end
  return {0, redis.call('GET', KEYS[1])}
end
for i = 2 + old, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    return redis.error_reply('side record ' .. KEYS[i] .. ' was not stored')
  end
end
if ARGV[5] ~= '' then
  redis.call('SETRANGE', KEYS[1], 0, ARGV[5])
  redis.call('APPEND', KEYS[1], ARGV[2])
  if ARGV[3] ~= '0' then
    redis.call('PEXPIREAT', KEYS[1], ARGV[3])
  end
elseif ARGV[2] ~= '' then
  redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
end
for i = 2, 1 + old do
  redis.call('UNLINK', KEYS[i])
end
return {1}
`)

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
	sideReads, sideWrites, pageWrites       atomic.Int64
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
	CacheHits, CacheMisses int64 // identities found in, or fetched into, the cache
	Conflicts              int64 // writes refused for another replica's newer version, retried
	Writes, Checks         int64 // record writes, and version checks of unchanged records
	SideReads              int64 // side records (pages and large entries) read
	SideWrites, PageWrites int64 // large entries' side records, and pages, written
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
		SideReads: r.sideReads.Load(), SideWrites: r.sideWrites.Load(), PageWrites: r.pageWrites.Load()}
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
	for k, old := range r.cache {
		if len(r.cache) < maxCachedRecords && r.cached+int64(c.size) <= maxCachedBytes {
			break
		}
		delete(r.cache, k)
		r.cached -= int64(old.size)
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
	pxat    int64  // its expiry, Unix ms; 0: kept (an append only)
	sides   []record.Side
	refetch bool // the record is to be read again: a side record was newer, or gone
	// gone is the version of the record that named a side record found
	// missing: read again at that version, the side record expired (or
	// was lost), while a newer version means it was replaced.
	gone    [record.VersionSize]byte
	goneSet bool
	next    [record.VersionSize]byte
	applied bool // results are computed on cur
	done    bool // resolved, or failed
	cmd     *goredis.Cmd
}

// recordKey renders the key of an identity's record.
func recordKey(prefix string, k state.Key) string {
	return redisKey(prefix, state.Key{Tenant: k.Tenant, Identity: k.Identity, Name: "rec"})
}

// byIdentity groups ops by identity, in order of first appearance, queue
// order within each.
func byIdentity(prefix string, ops []state.Op) []*identity {
	type tag struct{ tenant, identity string }
	index := make(map[tag]*identity)
	var out []*identity
	for _, op := range ops {
		k := op.Target()
		t := tag{k.Tenant, k.Identity}
		id := index[t]
		if id == nil {
			id = &identity{key: recordKey(prefix, k)}
			index[t] = id
			out = append(out, id)
		}
		id.ops = append(id.ops, op)
	}
	return out
}

// lock locks the stripes of ids in order, and returns their unlock.
func (r *records) lock(ids []*identity) func() {
	stripes := make([]int, 0, len(ids))
	for _, id := range ids {
		stripes = append(stripes, int(maphash.String(r.seed, id.key)%lockStripes))
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, i := range stripes {
		r.locks[i].Lock()
	}
	return func() {
		for _, i := range stripes {
			r.locks[i].Unlock()
		}
	}
}

// execRecords is Exec on the record layout.
func (s *Store) execRecords(ctx context.Context, b *state.Batch) error {
	ids := byIdentity(s.prefix, b.Ops())
	defer s.recs.lock(ids)()
	results := takeResults(len(b.Ops()))
	defer putResults(results)
	off := 0
	names := make([]uint64, 0, len(b.Ops()))
	for _, id := range ids {
		id.results = (*results)[off : off : off+len(id.ops)]
		off += len(id.ops)
		names = record.Names(id.ops, names)
		id.names = names[len(names)-len(id.ops):]
	}
	now := time.Now().UnixNano()
	for pass := 0; pass < maxRecordPasses && !allDone(ids); pass++ {
		if pass > 0 {
			if err := backOff(ctx, pass); err != nil {
				return s.recordOutage(ctx, b, err)
			}
		}
		if err := s.fetch(ctx, ids, now); err != nil {
			return s.recordOutage(ctx, b, err)
		}
		if err := s.attachSides(ctx, ids, now); err != nil {
			return s.recordOutage(ctx, b, err)
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
			return s.recordOutage(ctx, b, err)
		}
		for _, id := range pending {
			if err := s.settle(id, now); err != nil {
				id.fail(err)
			}
			// The pipeline returned: go-redis holds the pages' bytes no more.
			record.Release(id.sides)
			id.sides = nil
		}
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
	id.results = id.results[:0]
	changed := false
	for i, op := range id.ops {
		res, ch := id.cur.rec.ApplyNamed(op, id.names[i], now)
		id.results = append(id.results, res)
		changed = changed || ch
	}
	id.send, id.append, id.sides = nil, false, nil
	if !changed {
		return
	}
	binaryPut(id.next[:], rand.Uint64())
	w := id.cur.rec.EncodeWrite(id.next, now)
	id.send, id.append, id.pxat, id.sides = w.Data, w.Append, w.PXAT, w.Sides
}

// sideKey is the key of a side record of the record at main.
func sideKey(main, suffix string) string { return main + ":" + suffix }

func binaryPut(b []byte, v uint64) {
	for i := range b {
		b[i] = byte(v >> (56 - 8*i))
	}
}

// cas sends the identities' version-checked writes as one pipeline, again
// for those that met NOSCRIPT after loading the script.
func (s *Store) cas(ctx context.Context, ids []*identity) error {
	pending := ids
	for pass := 1; len(pending) > 0; pass++ {
		pipe := s.client.Pipeline()
		var sets []goredis.Cmder
		for _, id := range pending {
			sets = id.queueCAS(ctx, pipe, sets)
		}
		_, execErr := pipe.Exec(ctx)
		var again []*identity
		carried := false
		for _, c := range sets {
			err := c.Err()
			if unavailable(err) {
				return err
			}
			carried = carried || (err != nil && err == execErr)
		}
		for _, id := range pending {
			err := id.cmd.Err()
			if unavailable(err) {
				return err
			}
			carried = carried || (err != nil && err == execErr)
			if isNoScript(err) {
				again = append(again, id)
			}
		}
		if execErr != nil && !carried {
			return execErr // the pipeline failed before any command ran
		}
		if len(again) == 0 || pass == maxPasses {
			return nil
		}
		if err := s.loadScripts(ctx, []*script{casScript}); err != nil {
			if unavailable(err) {
				return err
			}
			return nil // the NOSCRIPT errors stay on those identities
		}
		pending = again
	}
	return nil
}

// queueCAS queues on pipe the SETs of the identity's new side records and
// its version-checked write (see casScript), and returns sets with the
// SETs appended.
func (id *identity) queueCAS(ctx context.Context, pipe goredis.Pipeliner, sets []goredis.Cmder) []goredis.Cmder {
	expect := ""
	if id.cur.exists {
		expect = string(id.cur.version[:])
	}
	args := make([]any, 3, 8+2*len(id.sides))
	args[0], args[1] = "evalsha", casScript.sha
	args = append(args, id.key)
	for _, sd := range id.sides {
		if sd.Old != "" {
			args = append(args, sideKey(id.key, sd.Old))
		}
	}
	old := len(args) - 4
	for _, sd := range id.sides {
		if sd.Data == nil {
			continue
		}
		var k any = sideKey(id.key, sd.Suffix) // boxed once for both commands
		set := goredis.NewStatusCmd(ctx, "set", k, sd.Data, "pxat", (sd.Expires+999_999)/1_000_000)
		_ = pipe.Process(ctx, set)
		sets = append(sets, set)
		args = append(args, k)
	}
	args[2] = len(args) - 3
	var next any = ""
	if id.send != nil && id.append {
		next = id.next[:]
	}
	args = append(args, expect, id.send, id.pxat, old, next)
	id.cmd = goredis.NewCmd(ctx, args...)
	id.cmd.SetFirstKeyPos(3)
	_ = pipe.Process(ctx, id.cmd)
	return sets
}

// settle reads an identity's CAS reply: on success it resolves the
// answers and caches the record; on a conflict it takes the current
// record for the next pass.
func (s *Store) settle(id *identity, now int64) error {
	v, err := id.cmd.Result()
	if err != nil {
		return fmt.Errorf("redis: record %s: %w", id.key, err)
	}
	reply, ok := v.([]any)
	if !ok || len(reply) == 0 {
		return fmt.Errorf("redis: record %s: unexpected reply %T", id.key, v)
	}
	if n, _ := reply[0].(int64); n == 1 {
		if id.send != nil {
			s.recs.writes.Add(1)
			for _, sd := range id.sides {
				if sd.Data == nil {
					continue
				}
				if sd.Suffix[0] == 'p' {
					s.recs.pageWrites.Add(1)
				} else {
					s.recs.sideWrites.Add(1)
				}
			}
			id.cur = &cachedRecord{exists: true, version: id.next, rec: id.cur.rec, size: id.cur.rec.Size()}
			largest := len(id.send)
			for _, sd := range id.sides {
				largest = max(largest, len(sd.Data))
			}
			if int64(largest) > s.recs.largest.Load() {
				s.recs.largest.Store(int64(largest)) // a figure: a lost race is harmless
			}
		} else {
			s.recs.checks.Add(1)
		}
		for i, op := range id.ops {
			id.results[i].Resolve(op)
		}
		id.done = true
		s.recs.keep(id.key, id.cur)
		return nil
	}
	s.recs.conflicts.Add(1)
	var cur []byte
	if len(reply) > 1 {
		if str, ok := reply[1].(string); ok {
			cur = []byte(str)
		}
	}
	if id.cur, err = decodeRecord(cur, now); err != nil {
		return fmt.Errorf("redis: record %s: %w", id.key, err)
	}
	id.applied = false
	return nil
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
func (s *Store) recordOutage(ctx context.Context, b *state.Batch, cause error) error {
	err := s.outageError(ctx, cause)
	b.FailAll(err)
	return err
}

// GroupsIdentities implements state.IdentityGrouper: true on the record
// layout, where state placed beside an identity's costs no write of its own.
func (s *Store) GroupsIdentities() bool { return s.recs != nil }

// DescribeRecord summarises a record's bytes, as read from the record
// layout's key of an identity, for logs and benchmarks.
func DescribeRecord(b []byte) string { return record.Describe(b) }
