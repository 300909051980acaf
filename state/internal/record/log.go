package record

import "encoding/binary"

// The log format (formatLog): a record past LogThreshold is stored as its
// entries (a base, laid out as in formatV) followed by segments appended
// by later writes, each the count and encodings of the entries one write
// changed. A later copy of an entry replaces an earlier one, whatever
// either's expiry: a copy written with a shorter TTL must not let an older
// one live on. So a batch that changes a few entries of a 30 KB record
// sends those entries (a few hundred bytes, APPENDed behind a new
// version) instead of the 30 KB, and Redis and the scorer copy that much.
// Superseded copies stay in the stored bytes until a write finds them past
// a half of the live bytes (compactAt) and rewrites the record whole.
//
// Upgrade rule: Decode reads formats 1 to 5; Encode writes 5 since this
// layout. A replica that reads only 1 to 4 fails (ErrCorrupt) on a record
// written in format 5, so every replica must run a version that reads
// format 5 before any writes it; rolling back past it means starting the
// record layout from empty state (FLUSH the prefix), as switching layouts
// does.

// LogThreshold is the encoded size from which a record is kept in the log
// format: below it a rewrite costs about what an append does, and takes
// fewer Redis commands (SET against SETRANGE, APPEND and, about once per
// TTL/keySlackDivisor of wall time, PEXPIREAT).
const LogThreshold = 1 << 10

// compactAt: a write rewrites a log-format record whole when the bytes
// stored would exceed its live bytes by more than a compactAt-th of them,
// so a record's stored bytes stay under 1 + 1/compactAt times its live
// bytes, and a write of d bytes of changes costs about (1 + compactAt) d
// bytes amortised.
const compactAt = 2

// Write is what a store writes for a record: its bytes, or what to append
// to the bytes it stores, and the side records that changed with it.
type Write struct {
	// Format, when not 0, is the format byte to set after the version
	// on an Append: a segment holding deltas makes the record
	// formatLogOps.
	Format byte
	// Data is the record's new bytes, its version first; or, when Append,
	// a segment to append to the stored record, whose version (its first
	// VersionSize bytes) the store overwrites with the new one.
	Data   []byte
	Append bool
	// PXAT is the expiry to give the record's key (Unix ms), no earlier
	// than the latest of its entries' (see keyExpiry); 0 when an Append
	// leaves it, the key's expiry being no earlier already.
	PXAT  int64
	Sides []Side
}

// EncodeWrite renders what a store writes to replace the record as stored
// with r, after version: the whole record (see Encode), or, for a record
// stored in the log format and still live mostly, the entries written
// since it was last encoded or decoded, to append. Like Encode it marks
// the entries clean: a caller whose write fails discards r.
func (r *Record) EncodeWrite(version [VersionSize]byte, now int64) Write {
	r.sized = false
	if r.log && r.pages == nil {
		if w, ok := r.encodeSegment(version, now); ok {
			return w
		}
	}
	data, sides := r.Encode(version, now)
	return Write{Data: data, PXAT: r.keyPXAT, Sides: sides}
}

// encodeSegment renders the entries changed since r was stored as a
// segment to append, or reports false when r is to be written whole: its
// dead bytes past a compactAt-th of its live ones, or its live ones past
// PageThreshold (it is to be paged).
func (r *Record) encodeSegment(version [VersionSize]byte, now int64) (Write, bool) {
	r.segmenting, r.deltas = true, false
	seg, sides := r.encodeEntries(nil, r.dirty, now, nil, nil)
	r.segmenting = false
	r.retally(now)
	clear(r.dirty) // all clean now: encodeEntries cleans what it leaves out too
	r.dirty = r.dirty[:0]
	live, size, last := r.tally.live, r.tally.size, r.tally.last
	stored := r.stored + len(seg)
	if stored-live > live/compactAt || live > PageThreshold {
		// Written whole: the entries just encoded are clean, and their
		// encodings and side records are what Encode uses and adds.
		data, more := r.Encode(version, now)
		return Write{Data: data, PXAT: r.keyPXAT, Sides: append(sides, more...)}, true
	}
	r.stored = stored
	r.size, r.sized = size, true
	w := Write{Data: seg, Append: true, Sides: sides}
	if r.deltas {
		w.Format = formatLogOps
	}
	if pxat := (last + 999_999) / 1_000_000; pxat > r.keyPXAT {
		w.PXAT = withSlack(pxat, now)
		r.keyPXAT = w.PXAT
	}
	return w, true
}

// pxat is the latest expiry of r's live entries, in Unix ms: the earliest
// its key may expire.
func (r *Record) pxat(now int64) int64 {
	return (r.Expires(now) + 999_999) / 1_000_000
}

// keySlackDivisor sets the headroom a key's expiry is given past the
// latest expiry of what it holds (see withSlack).
const keySlackDivisor = 16

// The expiry rule of a record's key (and a side record's): a write that
// sets the key's expiry sets it to E + (E − now)/keySlackDivisor, where E
// is the latest expiry of the live entries it holds (Unix ms, rounded up);
// an append sends no PEXPIREAT while E is no later than the expiry the
// record knows its key has (keyPXAT, a lower bound: what this replica
// last set, or E when the record was read). So a key never expires before
// an entry it holds, and outlives its last one by at most a
// keySlackDivisor-th of that entry's TTL; in exchange an append, which
// pushes E out by the time since the previous write, sets the expiry
// about once per TTL/keySlackDivisor of wall time instead of every time
// (a PEXPIREAT costs Redis about as much as the APPEND).
func (r *Record) keyExpiry(now int64) int64 {
	return withSlack(r.pxat(now), now)
}

// withSlack is the expiry to set (Unix ms) for a key whose content
// expires at ms, at now (Unix ns); 0 stays 0 (nothing live).
func withSlack(ms, now int64) int64 {
	if ms <= 0 {
		return ms
	}
	return ms + max(ms-now/1_000_000, 0)/keySlackDivisor
}

// tally is what encodeSegment weighs a record by: its live bytes (as
// Encode would write them, plus a header), the latest expiry of its live
// entries, and Size's figure. A record in the log format holds hundreds of
// entries (an identity's claims), each a pointer to chase, of which a write
// changes a few and a few expire: the tally is kept from write to write by
// those, the entries written (r.dirty) and those that expired since (in
// queue, the entries counted live by expiry), and counted again over every
// entry only when it cannot be: after anything else changed entries (ok
// false: Encode, Attach, reset), when the clock stepped back (now before
// at, the time of the last count), when the latest expiry may have fallen,
// or when queue holds more stale items than entries.
type tally struct {
	live, size int
	last, at   int64
	ok         bool
	queue      expiries
	counts     int // full counts made: a figure for tests
}

// retally brings r.tally to now, after the entries of r.dirty changed.
func (r *Record) retally(now int64) {
	t := &r.tally
	if t.ok && now >= t.at && len(t.queue) <= 2*len(r.entries)+16 {
		for _, e := range r.dirty {
			if e.cExp != 0 && e.cExp >= t.last && (e.kind == 0 || e.expires < e.cExp) {
				t.ok = false // it may have held the latest expiry, now lower
				break
			}
			t.live -= e.cLive
			t.size -= e.cSize
			t.add(e, now)
			if e.cExp != 0 {
				t.queue.push(expiry{e.cExp, e})
			}
		}
		if t.ok {
			t.expire(now)
			return
		}
	}
	q, n := t.queue[:0], t.counts
	*t = tally{live: VersionSize + 1 + binary.MaxVarintLen32, at: now, ok: true, counts: n + 1}
	for _, e := range r.entries {
		t.add(e, now)
		if e.cExp != 0 {
			q = append(q, expiry{e.cExp, e})
		}
	}
	t.queue = q
	t.queue.init()
}

// add counts e at now, and notes in e what it added.
func (t *tally) add(e *entry, now int64) {
	e.cLive, e.cSize, e.cExp = 0, e.size, 0
	t.size += e.size
	if e.kind == 0 || e.expires <= now {
		return
	}
	if e.side {
		e.cLive = e.stubLen()
	} else {
		e.cLive = e.size
	}
	e.cExp = e.expires
	t.live += e.cLive
	t.last = max(t.last, e.expires)
}

// expire takes out of the live bytes the entries counted live that expired
// by now. An item of queue is stale when its entry was counted again since
// (its cExp is another, or 0 once taken out).
func (t *tally) expire(now int64) {
	for len(t.queue) > 0 && t.queue[0].at <= now {
		x := t.queue.pop()
		if e := x.e; e.cExp == x.at {
			t.live -= e.cLive
			e.cLive, e.cExp = 0, 0
		}
	}
	if t.last <= now {
		t.last = 0 // every entry counted live expired
	}
	t.at = now
}

// expiry is an entry counted live and its expiry then.
type expiry struct {
	at int64
	e  *entry
}

// expiries is a min-heap of expiries by time.
type expiries []expiry

func (q expiries) init() {
	for i := len(q)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
}

func (q *expiries) push(x expiry) {
	*q = append(*q, x)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p].at <= h[i].at {
			break
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (q *expiries) pop() expiry {
	h := *q
	x := h[0]
	h[0] = h[len(h)-1]
	h[len(h)-1] = expiry{}
	*q = h[:len(h)-1]
	q.down(0)
	return x
}

func (q expiries) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(q) {
			return
		}
		if c+1 < len(q) && q[c+1].at < q[c].at {
			c++
		}
		if q[i].at <= q[c].at {
			return
		}
		q[i], q[c] = q[c], q[i]
		i = c
	}
}
