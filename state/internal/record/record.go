// Package record is the state of one identity (one tenant and identity: one
// Redis Cluster hash tag) as one value: every entry the identity holds
// (values, claims, throttles, marks, windows, novelty sets, buckets), each
// with its own expiry, applied to in Go with the semantics of the embedded
// store and encoded as compact bytes.
//
// It exists so that a shared store can keep an identity as one opaque
// string and do the work of an operation in the scorer, not in the
// database: the Redis store's record layout reads a record, applies a
// batch's operations to it here and writes it back with a version check
// (see state/redis). The conformance suite (state/statetest) holds it to
// the same contract as the memory store.
//
// Entries are found by an 8-byte digest of their name, novelty members and
// throttle owners are kept as digests too, and bucket members as 6-byte
// digests: they are only compared or counted, never read back. Window
// members are read back (WindowRead lists them) and are kept whole.
package record

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// Kind is what an entry holds. A name holds one kind at a time; using it
// as another is an error, as it is on the memory store.
type Kind uint8

const (
	kindValue Kind = iota + 1 // Put, Claim, Get
	kindThrottle
	kindMark
	kindWindow
	kindNovelty
	kindBuckets
	kindLimit // first invalid kind
)

var kindNames = [...]string{"", "value", "throttle", "mark", "window", "novelty set", "buckets"}

func (k Kind) String() string {
	if k >= kindLimit {
		return fmt.Sprintf("kind %d", uint8(k))
	}
	return kindNames[k]
}

// timed is a window member with the latest event time it was added at.
type timed struct {
	member string
	at     int64
	tag    uint32 // memberTag(member), which addWindow compares first
}

// seen is a novelty member's digest with the latest event time it was seen.
type seen struct {
	member uint64
	at     int64
}

// intro records which owner's add made a novelty member new, and when
// (wall clock, ns).
type intro struct {
	member, owner uint64
	when          int64
}

// bucket is one time bucket: its start (event time, ns) and the sorted
// 6-byte digests of its distinct members, packed.
type bucket struct {
	start   int64
	members []byte // len is a multiple of bucketDigest, sorted
}

const bucketDigest = 6

// entry is the state under one name of an identity. Times are Unix
// nanoseconds: wall clock for expires and intro.when, event time for the
// rest.
type entry struct {
	name    uint64
	kind    Kind
	expires int64
	value   []byte   // value; throttle owner digest
	mark    int64    // mark
	window  []timed  // window: sorted by time, then member
	novelty []seen   // novelty set: unordered
	intros  []intro  // novelty: introductions within the retry window
	buckets []bucket // buckets: sorted by start

	// A large entry lives in a side record of its own (see Encode): side
	// is set when it does, version is that record's version, and stub
	// when only its name, kind, expiry and version are known here (the
	// caller must Attach the side record before an operation uses it).
	// dirty marks an entry written since it was decoded or encoded.
	side, stub, dirty bool
	version           [VersionSize]byte
	stored            string // the suffix of the key its side record lives at; "" if none
	size              int    // bytes of its last encoding (its side record's, for a side entry)
	enc               []byte // its last encoding while clean, inline entries only

	// A side entry whose side record is in the side log format (sideLog)
	// notes what its writes did in journal (journalN operations), which
	// its next write appends to the side record (see sidelog.go); whole
	// marks one whose next write rewrites the side record instead (the
	// entry was replaced). sideBase and sideStored are the side record's
	// bytes as last written whole, and as stored now.
	sideLog, whole       bool
	journal              []byte
	journalN             int
	sideBase, sideStored int
	// sideExp is a lower bound of its side record's key's expiry (Unix
	// ms) as this replica set it; 0: unknown. An append sets the key's
	// expiry only when the entry's passes it (see keyExpiry).
	sideExp int64
	// cLive, cSize and cExp are what the record's tally counted of it:
	// its live bytes, its size, and its expiry (0: counted expired).
	cLive, cSize int
	cExp         int64
	// based: the stored record holds a copy of this inline entry that its
	// journal applies to, so a log segment may carry the journal instead
	// of the entry (see delta).
	based bool
	as    uint8 // how encodeEntries writes it: asEntry, asDelta, asAppend
}

// How encodeEntries writes a live entry: whole (or as its stub), as a
// delta, or as a segment appended to its side record.
const (
	asEntry = iota
	asDelta
	asAppend
)

// Record is the state of one identity. Its zero value is an empty record.
// A Record is not safe for concurrent use.
type Record struct {
	entries []*entry
	index   map[uint64]int // name → position, past manyEntries
	// pages, when not nil, hold the entries instead of the record itself,
	// each entry in the page its name picks (see Encode); entries then
	// lists those of the loaded pages only.
	pages     []page
	pageIndex map[uint64]int // pageID → position in pages
	bitsRange [2]uint8       // fewest and most bits of a page's prefix

	op named // the name of the operation being applied, digested

	// log: the record is stored in the log format (see EncodeWrite), in
	// stored bytes; keyPXAT is a lower bound of its key's expiry (Unix
	// ms), what the last write set or decoding found.
	log     bool
	stored  int
	keyPXAT int64
	// segmenting: encodeEntries renders a log segment, where an entry may
	// be a delta; deltas: the segment it rendered holds one.
	segmenting, deltas bool

	// dirty lists the entries written since r was last encoded, each
	// once (touch adds an entry as it becomes dirty, and only encoding
	// makes one clean): a log segment holds these, and finding them
	// must not cost a look at every one of an identity's hundreds of
	// claims at every write.
	dirty []*entry
	// size is Size's figure when sized: the write that encoded r last
	// summed it in the pass it makes over the entries anyway, and
	// nothing changed r since (every exported method that may clears
	// sized).
	size  int
	sized bool
	// listed is the sum of the sizes of the entries the last
	// encodeEntries call listed, as it left them: Size's figure after
	// encoding all of r's.
	listed int
	tally  tally // see retally
	// stubs: r may hold stubs of side records, which NeedsNamed looks
	// for. Only decoding makes one (Decode sets stubs when it does, and
	// Attach replaces them), so a record that was never read with one
	// (most: an hour's claims, a person's few entries) is not searched
	// for them name by name at every batch.
	stubs bool
}

// named is a name and its digest.
type named struct {
	s string
	d uint64
}

// digest returns the digest of s, without digesting again the name of the
// operation being applied.
func (r *Record) digest(s string) uint64 {
	if s == r.op.s && r.op.s != "" {
		return r.op.d
	}
	return Digest(s)
}

// Names returns the digests of ops' key names, in order, appended to into:
// what NeedsNamed and ApplyNamed take.
func Names(ops []state.Op, into []uint64) []uint64 {
	for _, op := range ops {
		into = append(into, nameDigest(op))
	}
	return into
}

// page is one page of a paged record: a side record holding the entries
// whose name picks it.
type page struct {
	bits    uint8  // the page holds the names whose low bits bits are prefix
	prefix  uint64 // (pages split in two as they grow: a binary trie's leaves)
	version [VersionSize]byte
	stored  string   // the suffix of the key it lives at; "" if none
	expires int64    // latest expiry of its entries (ns); 0: empty
	size    int      // bytes of its last encoding, when loaded
	loaded  bool     // its entries are in the record's entries
	dirty   bool     // an entry of it was written since it was encoded
	entries []*entry // its entries, when loaded

	// A page in the log format (formatLogOps, see pagelog.go) takes its
	// writes as appended segments: log says it is stored so, base is
	// about its live bytes at its last whole write (or when attached),
	// and keyExp a lower bound of its key's expiry (Unix ms). pending
	// lists its entries written since it was encoded, while Encode runs.
	log     bool
	base    int
	keyExp  int64
	pending []*entry
}

// maxPageBits bounds how often a page splits: 4096 pages at most.
const maxPageBits = 12

func pageID(bits uint8, prefix uint64) uint64 { return uint64(bits)<<56 | prefix }

// pageOf returns the page the entry named name lives in: the one whose
// prefix its low bits match. The directory covers every name (Decode
// checks), so there is always one.
func (r *Record) pageOf(name uint64) int {
	for b := r.bitsRange[0]; b <= r.bitsRange[1]; b++ {
		if i, ok := r.pageIndex[pageID(b, name&(1<<b-1))]; ok {
			return i
		}
	}
	panic("record: page directory does not cover a name") // Decode and split keep it complete
}

// addPage appends pg to the directory.
func (r *Record) addPage(pg page) {
	if r.pageIndex == nil {
		r.pageIndex = make(map[uint64]int)
		r.bitsRange = [2]uint8{pg.bits, pg.bits}
	}
	r.bitsRange = [2]uint8{min(r.bitsRange[0], pg.bits), max(r.bitsRange[1], pg.bits)}
	r.pageIndex[pageID(pg.bits, pg.prefix)] = len(r.pages)
	r.pages = append(r.pages, pg)
}

// pageSuffix names the side record of the page of bits and prefix:
// p<bits>.<prefix>, then v<version> unless v is nil (formats 1 and 2).
// Every version of a page or large entry is a key of its own, written
// before the record that names it and deleted once a record naming a newer
// one is stored (see Side), so the large bytes never pass through the
// version-checked script.
func pageSuffix(bits uint8, prefix uint64, v *[VersionSize]byte) string {
	var buf [64]byte
	b := strconv.AppendUint(append(buf[:0], 'p'), uint64(bits), 10)
	return withVersion(strconv.AppendUint(append(b, '.'), prefix, 16), v)
}

// entrySuffix names the side record of the large entry name: its digest
// in hex, then v<version> unless v is nil (formats 1 and 2).
func entrySuffix(name uint64, v *[VersionSize]byte) string {
	var buf [64]byte
	return withVersion(strconv.AppendUint(buf[:0], name, 16), v)
}

func withVersion(b []byte, v *[VersionSize]byte) string {
	if v != nil {
		b = strconv.AppendUint(append(b, 'v'), binary.BigEndian.Uint64(v[:]), 16)
	}
	return string(b)
}

// touch marks e written: it and its page are to be encoded again.
func (r *Record) touch(e *entry) {
	if !e.dirty {
		e.dirty = true
		r.dirty = append(r.dirty, e)
	}
	if r.pages != nil {
		r.pages[r.pageOf(e.name)].dirty = true
	}
}

// ready reports an error when the page holding k's entry is not loaded:
// the caller must Attach it before applying an operation on k.
func (r *Record) ready(k state.Key) (uint64, error) {
	name := r.digest(k.Name)
	if r.pages != nil && !r.pages[r.pageOf(name)].loaded {
		return name, fmt.Errorf("redis: key %s: its page was not attached", k)
	}
	return name, nil
}

// manyEntries is how many entries a record scans before it keeps an index:
// an identity that claims its events' dedupe keys holds one per event.
const manyEntries = 16

// Digest returns the 8-byte digest a record keeps of a name, member or
// owner: the first 8 bytes of SHA-256, so that no record can be made to
// confuse two of them short of a 2^64 search.
func Digest(s string) uint64 {
	// Names are mostly longer than the 32 bytes a conversion gets on the
	// stack, and an operation digests one or two: copy them to a larger
	// buffer on the stack instead of the heap.
	var buf [256]byte
	b := buf[:0]
	if len(s) > len(buf) {
		b = make([]byte, 0, len(s))
	}
	sum := sha256.Sum256(append(b, s...))
	return binary.BigEndian.Uint64(sum[:8])
}

// Size returns about how many bytes r's entries took when last encoded or
// decoded, side records included: what a cache of records holds. A paged
// record counts its loaded pages' last encodings, so that the figure costs
// a look at each page, not at each of an automation principal's tens of
// thousands of entries.
func (r *Record) Size() int {
	if r.sized {
		return r.size
	}
	n := len(r.pages) * (VersionSize + 8)
	if r.pages != nil {
		for _, pg := range r.pages {
			n += pg.size
		}
		return n
	}
	for _, e := range r.entries {
		n += e.size
	}
	return n
}

// Len returns the number of entries held, expired ones included.
func (r *Record) Len() int { return len(r.entries) }

// find returns the position of the entry named name, or -1.
func (r *Record) find(name uint64) int {
	if r.index != nil {
		if i, ok := r.index[name]; ok {
			return i
		}
		return -1
	}
	for i, e := range r.entries {
		if e.name == name {
			return i
		}
	}
	return -1
}

func (r *Record) add(e *entry) {
	if r.pages != nil {
		p := &r.pages[r.pageOf(e.name)]
		p.entries = append(p.entries, e)
	}
	r.entries = append(r.entries, e)
	switch {
	case r.index != nil:
		r.index[e.name] = len(r.entries) - 1
	case len(r.entries) > manyEntries:
		r.index = make(map[uint64]int, 2*len(r.entries))
		for i, e := range r.entries {
			r.index[e.name] = i
		}
	}
}

// live returns the unexpired entry named name, or nil; an entry of another
// kind than want (0: any) is an error naming k.
func (r *Record) live(k state.Key, name uint64, want Kind, now int64) (*entry, error) {
	i := r.find(name)
	if i < 0 {
		return nil, nil
	}
	e := r.entries[i]
	if e.expires <= now {
		r.reset(e, 0)
		return nil, nil
	}
	if want != 0 && e.kind != want {
		return nil, fmt.Errorf("redis: key %s holds a %s, not a %s", k, e.kind, want)
	}
	if e.stub {
		return nil, fmt.Errorf("redis: key %s: its side record was not attached", k)
	}
	return e, nil
}

// reset empties e in place as an entry of kind k (0: expired, dropped on
// encode). It stays dirty if it was: it is in r.dirty, which holds an
// entry once.
func (r *Record) reset(e *entry, k Kind) {
	*e = entry{name: e.name, kind: k, dirty: e.dirty}
	r.tally.ok = false // what it counted of e is gone: put keeps it instead
}

// upsert returns the live entry of kind want named by k, creating it when
// absent, and restarts its TTL: every write does.
func (r *Record) upsert(k state.Key, want Kind, now int64, ttl time.Duration) (e *entry, created bool, err error) {
	name := r.digest(k.Name)
	e, err = r.live(k, name, want, now)
	if err != nil {
		return nil, false, err
	}
	if e == nil {
		e, created = r.put(name, want), true
	}
	return e, created, nil
}

// Refresh thresholds: a write whose only effect would be to push an
// entry's expiry out by less than a refreshDivisor-th of a TTL of at
// least minRefreshTTL is skipped, as the keys layout skips such a PEXPIRE
// (see refreshes in state/redis): an entry then expires no sooner than
// TTL − TTL/refreshDivisor after its last write, and exactly TTL after it
// when its TTL is short. A first-seen mark of 90 days, touched by every
// event of an identity, is then written about once in 5.6 days.
const (
	minRefreshTTL  = time.Hour
	refreshDivisor = 16
)

// refresh ends a write on e that changed its content or not: it restarts
// e's TTL, unless the write changed nothing and the TTL was restarted
// recently, and reports whether e changed.
func (r *Record) refresh(e *entry, changed bool, now int64, ttl time.Duration) bool {
	exp := now + int64(ttl)
	if !changed && ttl >= minRefreshTTL && exp-e.expires < int64(ttl)/refreshDivisor {
		return false
	}
	e.expires = exp
	r.touch(e)
	return true
}

// put returns a fresh entry of kind k named name, in place of what the
// name held.
func (r *Record) put(name uint64, k Kind) *entry {
	if i := r.find(name); i >= 0 {
		e := r.entries[i]
		side, version, stored := e.side, e.version, e.stored
		cLive, cSize, cExp, ok := e.cLive, e.cSize, e.cExp, r.tally.ok
		r.reset(e, k)
		e.side, e.version, e.stored = side, version, stored // its side record is rewritten
		e.whole = side
		// It is dirty: the tally takes out what it counted of it, and
		// counts it again, at the next write.
		e.cLive, e.cSize, e.cExp, r.tally.ok = cLive, cSize, cExp, ok
		r.touch(e)
		return e
	}
	e := &entry{name: name, kind: k}
	r.touch(e)
	r.add(e)
	return e
}

// Expires returns the latest expiry of the entries live at now (Unix ns),
// or 0 when none is: the record's key expires with its last entry.
func (r *Record) Expires(now int64) int64 {
	var last int64
	if r.pages != nil {
		for _, p := range r.pages {
			if p.expires > now {
				last = max(last, p.expires)
			}
		}
		return last
	}
	for _, e := range r.entries {
		if e.kind != 0 && e.expires > now {
			last = max(last, e.expires)
		}
	}
	return last
}
