package record

// Pages in the log format: a page (see PageThreshold) is written whole in
// formatLogOps, its entries as in formatV, and later writes APPEND to it
// a segment of the entries they changed, or their deltas, as a log-format
// record takes them (log.go, delta.go). A claim-heavy identity's batch
// spreads its claims and windows over pages by name digest: rewriting
// each page it lands on whole (up to pageSplit bytes each, its clean
// entries copied into a new key) cost the scorer a page's memmove and
// Redis a page's SET per page touched; appended, a batch costs the bytes
// it changed.
//
// The page's key and version stay on an append, as a large entry's side
// record's do (sidelog.go): only a record whose version check passed
// appends, and the script appends after that check, so a replica that
// reads a page after its directory sees the segments that directory's
// writes made, and one that read an older directory fails its check and
// reads both again. A page is rewritten whole, under a new version, when
// its stored bytes would pass its live bytes at its last whole write by
// a compactAt-th of them (so a page holds at most pageSplit plus a
// compactAt-th of it), when it splits, or when it was not read in this
// format.
//
// Upgrade rule: the pages' format byte is 7 (formatLogOps), which every
// version that writes format 7 records reads: they decode a page with
// Decode, whatever its format. Versions before format 7 do not read it,
// and format 7's rule (every replica runs a version that reads it before
// any writes it) already keeps them out. Pages of format 3, which earlier
// versions write, still attach, and are rewritten whole in format 7 by
// their next write; a version that writes format 3 pages rewrites a page
// it changed whole, whatever format it was read in.

// appendPage renders the entries of page pg written since it was stored
// (pg.pending) as a segment to append to it, with sides the side records
// they wrote, and reports false when pg is to be written whole instead:
// it is not stored in the log format, or the segment would take its
// stored bytes past a compactAt-th over its live ones. Either way the
// entries are clean: written whole, Encode finds their encodings.
func (r *Record) appendPage(pg *page, now int64, sides []Side) ([]Side, bool) {
	pending := pg.pending
	defer func() {
		clear(pending)
		pg.pending = pending[:0]
	}()
	if !pg.log || pg.stored == "" || len(pending) == 0 {
		return sides, false
	}
	r.segmenting = true
	seg, sides := r.encodeEntries(nil, pending, now, sides, nil)
	r.segmenting = false
	if pg.size+len(seg)-pg.base > pg.base/compactAt {
		return sides, false
	}
	pg.dirty = false
	if len(seg) == 1 && seg[0] == 0 {
		return sides, true // no entry live: nothing to append
	}
	// The page's expiry may only grow here: it bounds its entries'
	// from above (what the directory and the key's expiry need), and a
	// whole write counts it again.
	for _, e := range pending {
		if e.kind != 0 && e.expires > now {
			pg.expires = max(pg.expires, e.expires)
		}
	}
	sd := Side{Suffix: pg.stored, Data: seg, Append: true}
	if ms := (pg.expires + 999_999) / 1_000_000; ms > pg.keyExp {
		pg.keyExp = withSlack(ms, now)
		sd.Expires = pg.keyExp * 1_000_000
	}
	pg.size += len(seg)
	return append(sides, sd), true
}

// attachedPage notes how page pg, read as side with its live entries es,
// is stored: in the log format or not, its live bytes (the base its
// appends are weighed against) and a lower bound of its key's expiry,
// the directory's figure for it.
func (r *Record) attachedPage(pg *page, side []byte, es []*entry) {
	pg.log = side[VersionSize] == formatLogOps
	pg.base = VersionSize + 1 + uvarintLen(uint64(len(es))) + estimate(es)
	pg.keyExp = (pg.expires + 999_999) / 1_000_000
}
