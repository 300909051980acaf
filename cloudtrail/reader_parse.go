package cloudtrail

// Reading and parsing in one walk. Next finds where a record ends by
// scanning its bytes, and ParseInto then walks the same bytes again to
// decode them: two full passes over every record, the first of which
// learns nothing the second does not. NextInto lets the parser's walk
// find the end instead: a record object the parser's fast path takes is
// checked, measured and decoded at once, and the scan the Reader would
// have made is skipped. Anything the fast path declines (a syntax error,
// a value of the wrong type, a record Parse rejects, an object that may
// be an envelope, one that runs past the bytes read so far) takes the
// Reader's ordinary path, so items, positions and errors are exactly
// Next's (a position as Item.Position gives it: see Item.Pos).

// NextInto is Next that also parses the item into rec when it can do so
// while finding the item's end; parsed reports whether it did. When
// parsed is true, rec holds what ParseInto(rec, item.Raw, opts) would
// give (it shares no memory with the input, so it outlives Release), and
// the item is the one Next would have returned. When parsed is false,
// rec is as it was and the item is Next's: the caller parses item.Raw
// itself, or reports item.Err. Either way, the item's Pos is set only
// when it has an Err; item.Position() is Next's Pos.
func (r *Reader) NextInto(rec *Record) (item Item, parsed bool, err error) {
	return r.nextInto(rec, false)
}

// NextIntoBorrowed is NextInto for a caller that is done with a record
// by the time it calls Release: a record it parses keeps its
// RequestParameters, ResponseElements and AdditionalEventData as slices
// of the item's bytes rather than copies, valid, as item.Raw is, only
// until the next Release. The rest of the record is its own. It saves
// the one allocation, and the copy, that a parsed record costs: a scan
// allocated about a kilobyte a record for the copies (most of it
// responseElements' session tokens), which the detectors decode, if at
// all, while the record is scored.
func (r *Reader) NextIntoBorrowed(rec *Record) (item Item, parsed bool, err error) {
	return r.nextInto(rec, true)
}

func (r *Reader) nextInto(rec *Record, borrow bool) (item Item, parsed bool, err error) {
	r.dst, r.parsed, r.borrow = rec, false, borrow
	item, err = r.Next()
	parsed = r.parsed
	r.dst, r.parsed, r.borrow = nil, false, false
	return item, parsed, err
}

// parseRecord parses the record object that begins at buf[i] into r.dst
// when the parser's fast path takes it whole within the bytes read so
// far and it is an item of its own (not an envelope, not too large); it
// returns the index just past the object. ok false leaves r.dst as it
// was, for the Reader's ordinary path to handle the object.
func (r *Reader) parseRecord(i int) (end int, ok bool) {
	if r.dst == nil {
		return 0, false
	}
	if r.dec == nil {
		// Held until the input ends (see Release) rather than taken from
		// the free list per record: no round trip a record.
		r.dec = getDecoder()
	}
	end, ok = r.dec.parseAt(r.buf, i, r.max, r.dst, r.borrow)
	r.parsed = ok
	return end, ok
}

// passRecord steps the line count over the record in buf[from:end] that
// parseRecord just parsed and whose item was just given its position,
// when the parser saw that it holds no newline (decoder.newline), rather
// than have line count its bytes at the next item: JSON lines put one
// newline after each record, and counting every record's bytes again
// (bytes.Count) cost 290 instructions a record of the realistic month.
func (r *Reader) passRecord(from, end int) {
	if !r.dec.newline && r.lineAt == r.base+int64(from) {
		r.lineAt = r.base + int64(end)
	}
}

// parseAt is decoder.parse on the object that begins at b[i] and ends
// wherever its closing brace is, with more input after it: it fills rec
// and returns the index past the object, or declines (ok false, rec
// untouched) what Parse would not take through its fast path, objects
// larger than max, and objects with a top-level "Records" key, which
// the Reader must look at as a possible envelope (it declines at the
// key, without reading on through what may be a whole delivery file).
// A truncated object declines too: the bytes after i hold no complete
// object. With borrow, rec's raw values alias b (see lendRaw).
func (d *decoder) parseAt(b []byte, i, max int, rec *Record, borrow bool) (end int, ok bool) {
	defer d.release()
	var raw rawRecord
	d.b, d.i, d.depth, d.noRecords, d.anchor, d.newline = b, i, 0, true, 0, false
	// The fast path declines a key that differs from "Records" only by
	// case, folding or escapes, and noRecords declines the exact one as
	// soon as it is read, so an envelope is left to the Reader unwalked.
	obj, ok := d.open()
	ok = obj && ok && raw.object(d, objRecord)
	d.noRecords = false
	if !ok {
		return 0, false
	}
	end = d.i
	if end-i > max {
		return 0, false
	}
	if inner := raw.wrapped(); inner != nil {
		raw = rawRecord{}
		if !d.decode(inner, &raw) {
			return 0, false
		}
	}
	if borrow {
		raw.lendRaw(&d.ids)
	} else {
		raw.ownRaw()
	}
	if raw.fill(rec, nil, &d.filled) != nil {
		return 0, false
	}
	return end, true
}
