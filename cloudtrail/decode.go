package cloudtrail

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// decoder is the fast path of Parse: it walks a record's bytes once, with
// the Reader's byte scanner (reader_scan.go), reads the values of the keys
// rawRecord names and steps over every other value, still checking its
// syntax but building nothing. It decodes exactly what encoding/json would
// for inputs it accepts, and declines (ok false) everything else: a syntax
// error, a value of the wrong JSON type, anything that is not one object.
// Parse then runs encoding/json, so rejections keep its wording, offsets
// and field paths.
//
// It replaced a jsontext token decoder that spent most of a record's
// parsing in tokenizing values the Record never keeps (responseElements,
// tlsDetails, resources); the scanner steps over those at memory speed.
type decoder struct {
	b     []byte // the record
	i     int    // the next byte to read in b
	depth int    // objects open around b[i], for encoding/json's nesting limit
	more  bool   // a member was read in the innermost open object: ',' or '}' is next
	strs  stringCache
	fold  [maxFolded + utf8.UTFMax]byte // scratch for foldName
	// noRecords declines at a "Records" key before its value is read:
	// the Reader's parseAt sets it, as such an object may be an envelope
	// for the Reader to stream, not to be walked whole first.
	noRecords bool
	// newline is set when the record parseAt walks may hold a newline:
	// when the walk stepped over space between tokens (only there can
	// JSON hold one), or may have (see skip). The Reader then counts the
	// record's newlines for its line numbers; a record without one it
	// steps over uncounted (see Reader.passRecord).
	newline bool
	// keys and pred are the memos of earlier records' keys and values,
	// anchor the hash of this record's principal (decode_memo.go).
	keys   [numKinds][maxMemoKeys][memoWays]keyMemo
	pred   *predTable
	anchor uint32
	// idents are the userIdentity blocks met more than once
	// (decode_identity.go). It and pred are made by withTables: every
	// decoder of the free list (decode_free.go) has them, and a decoder
	// a test makes with new has neither.
	idents *identTable
	filled fillMemo // (decode_fill.go)
	ids    []byte   // the block lendRaw writes event ids into (idString)
}

// errDeclined is the fast path's word that encoding/json must decide.
var errDeclined = errors.New("cloudtrail: declined by the fast path")

// parse is Parse's fast path: the same steps as parseStd on the same
// rawRecord, or errDeclined.
// It fills rec, which it leaves untouched on an error.
func (d *decoder) parse(data []byte, rec *Record) error {
	defer d.release()
	var raw rawRecord
	if !d.decode(data, &raw) {
		return errDeclined
	}
	if inner := raw.wrapped(); inner != nil {
		raw = rawRecord{}
		if !d.decode(inner, &raw) {
			return errDeclined
		}
	}
	raw.ownRaw()
	return raw.fill(rec, nil, &d.filled)
}

// decode fills raw from data, which must be exactly one JSON object.
func (d *decoder) decode(data []byte, raw *rawRecord) bool {
	d.b, d.i, d.depth, d.anchor = data, skipSpace(data, 0), 0, 0
	if obj, ok := d.open(); !obj || !ok || !raw.object(d, objRecord) {
		return false
	}
	return skipSpace(d.b, d.i) == len(d.b) // nothing but space may follow the record
}

// release drops every reference to the input, so a pooled decoder pins
// no caller's bytes.
func (d *decoder) release() { d.b = nil }

// peek returns the byte that starts the next value, or 0 at the end.
func (d *decoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// open starts reading a field that holds an object: it consumes the '{'
// of an object (obj true) or a null (obj false, and encoding/json leaves
// the field as it was); any other value declines (ok false).
func (d *decoder) open() (obj, ok bool) {
	switch d.peek() {
	case '{':
		if d.depth++; d.depth > maxNesting {
			return false, false
		}
		d.i, d.more = d.i+1, false
		return true, true
	case 'n':
		return false, d.skip()
	}
	return false, false
}

// member reads the next member name of the open object, of kind k, at
// member position n (0 for the first), and the colon after it, leaving
// d.i at its value: f is the field the name matches as encoding/json
// matches names (case-insensitively, with Unicode folding; noField when
// none), and exact whether it is the field's key exactly; or the '}'
// that ends the object (end true). ok is false on a syntax error.
func (d *decoder) member(k objKind, n int) (f field, exact, end, ok bool) {
	b := d.b
	i := skipSpace(b, d.i)
	spaced := i != d.i // see newline
	switch {
	case i == len(b):
		return noField, false, false, false
	case b[i] == '}':
		// The object is a member's value in its parent, which has now read
		// a member (or it is the record, and nothing follows).
		d.i, d.depth, d.more = i+1, d.depth-1, true
		d.newline = d.newline || spaced
		return noField, false, true, true
	case d.more && b[i] == ',':
		j := skipSpace(b, i+1)
		spaced = spaced || j != i+1
		i = j
	case d.more:
		return noField, false, false, false
	}
	if i == len(b) || b[i] != '"' {
		return noField, false, false, false
	}
	j, ascii, ok := scanQuoted(b, i)
	if !ok {
		return noField, false, false, false
	}
	q := b[i:j]
	if i = skipSpace(b, j); i == len(b) || b[i] != ':' {
		return noField, false, false, false
	}
	d.i, d.more = skipSpace(b, i+1), true
	d.newline = d.newline || spaced || i != j || d.i != i+1
	if ascii { // folding is ASCII case: a hash lookup, no folded copy
		name := q[1 : len(q)-1]
		f, exact = asciiField(k, name)
		if (exact || f == noField) && i == j {
			d.keepKey(k, n, name, f)
		}
		return f, exact, false, true
	}
	f = fieldOf(k, foldName(d.fold[:0], q))
	return f, f != noField && string(q[1:len(q)-1]) == fieldKeys[f], false, true
}

// value scans the value at d.i and returns it, checking its syntax and
// that it nests no deeper than encoding/json allows.
func (d *decoder) value() ([]byte, bool) {
	start := d.i
	ok := d.skip()
	return d.b[start:d.i], ok
}

// skip steps over a value the record does not need: value, without
// making the slice that most callers (skipped members) drop.
func (d *decoder) skip() bool {
	start := d.i
	switch d.peek() {
	case '"':
		// Most values stepped over are strings (requestID, eventVersion,
		// eventCategory): scanValueMax would scan just this string, after
		// setting up its stack of containers. A string holds no newline.
		end, res := scanString(d.b, start+1, true)
		if res != scanOK {
			return false
		}
		d.i = end
		return true
	case 't', 'f', 'n':
		// A literal (managementEvent, readOnly, a null responseElements):
		// the same, in one comparison.
		if n := literalAt(d.b, start); n > 0 {
			d.i = start + n
			return true
		}
	case '{':
		// Most objects stepped over or kept raw are flat: tlsDetails, and
		// requestParameters in 60 % of the month's records.
		if end, ok := scanFlat(d.b, start); ok && d.depth < maxNesting {
			d.i = end
			return true
		}
	}
	end, res := scanValueMax(d.b, start, true, maxNesting-d.depth)
	if res != scanOK {
		return false
	}
	// The values scanValueMax takes (arrays, nested objects, numbers,
	// objects with space) are the ones that may hold a newline: they
	// are searched for one, at a few instructions per 32 bytes.
	if !d.newline && bytes.IndexByte(d.b[start:end], '\n') >= 0 {
		d.newline = true
	}
	d.i = end
	return true
}

// quoted reads the string at d.i, whose opening quote the caller has
// seen, and returns its contents when they are their own value (see
// plainString) or, when plain is false, its quoted JSON.
func (d *decoder) quoted() (v []byte, plain, ok bool) {
	end, ascii, ok := scanQuoted(d.b, d.i)
	if !ok {
		return nil, false, false
	}
	v, d.i = d.b[d.i:end], end
	if ascii {
		return v[1 : len(v)-1], true, true
	}
	if s, plain := plainString(v); plain {
		return s, true, true
	}
	return v, false, true
}

// plainASCII marks the bytes a string holds as they are and that are
// ASCII: printable, neither the quote nor the backslash.
var plainASCII = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c < 0x80 && c != '"' && c != '\\'
	}
	return t
}()

// scanQuoted scans the string whose opening quote is at b[i] and returns
// the index past its closing quote, and whether it holds only ASCII and
// no escapes, so that its contents are its value (CloudTrail's keys and
// almost all of its values).
func scanQuoted(b []byte, i int) (end int, ascii, ok bool) {
	j := i + 1 // the run chosen as in scanString
	if simdRuns && len(b)-j >= simdBlock {
		j += asciiRunAVX2(&b[j], len(b)-j)
	} else {
		j = asciiRun(b, j)
	}
	if j < len(b) && b[j] == '"' {
		return j + 1, true, true
	}
	end, res := scanString(b, j, true)
	return end, false, res == scanOK
}

// str reads a string field: a string sets it, null leaves it as it was
// (as encoding/json does), anything else declines. A field f other than
// noField takes its string from the value predicted for it (predSlot)
// when the bytes are that value, else from d.strs.
func (d *decoder) str(dst *string, f field) bool {
	switch d.peek() {
	case 'n':
		return d.skip()
	case '"':
	default:
		return false
	}
	var slot *string
	if f != noField {
		slot = d.predSlot(f)
		if slot != nil && d.memoValue(dst, slot) {
			d.anchorAt(f, *dst)
			return true
		}
	}
	end, ascii, ok := scanQuoted(d.b, d.i)
	if !ok {
		return false
	}
	v := d.b[d.i:end]
	d.i = end
	s, plain := v[1:len(v)-1], ascii
	if !ascii {
		s, plain = plainString(v)
	}
	var err error
	switch {
	case !plain:
		*dst, err = unquoteStd(v)
		if f != noField && err == nil {
			d.anchorAt(f, *dst)
		}
		return err == nil
	case f == noField:
		*dst = string(s)
		return true
	}
	*dst = d.strs.get(s)
	if ascii && slot != nil {
		*slot = *dst
	}
	d.anchorAt(f, *dst)
	return true
}

// anchorAt makes the caller's principal id, once read, the anchor of
// the predictions of the fields read after it (see predSlot).
func (d *decoder) anchorAt(f field, v string) {
	if f == fIdentityPrincipalID && v != "" {
		d.anchor = hashString(v) | 1
	}
}

// strBytes reads a string field as str does, except that a plain string
// is kept as its bytes in raw (aliasing the input) rather than made a
// string: eventTime is parsed once, in fill, and never kept; eventID is
// copied by rawRecord.ownRaw.
func (d *decoder) strBytes(dst *string, raw *[]byte) bool {
	if d.peek() != '"' {
		return d.str(dst, noField)
	}
	v, plain, ok := d.quoted()
	if !ok {
		return false
	}
	if plain {
		*raw = v
		return true
	}
	var err error
	*dst, err = unquoteStd(v)
	return err == nil
}

// unquoteStd unquotes a JSON string with escapes or invalid UTF-8 the way
// encoding/json does (U+FFFD for bad bytes and lone surrogates).
func unquoteStd(v []byte) (string, error) {
	var s string
	err := json.Unmarshal(v, &s)
	return s, err
}

// rawValue reads a value kept as raw JSON. The bytes alias the input;
// rawRecord.ownRaw copies those the Record keeps.
func (d *decoder) rawValue(dst *json.RawMessage) bool {
	v, ok := d.value()
	*dst = json.RawMessage(v)
	return ok
}

// flag reads a flexBool, which takes any JSON value.
func (d *decoder) flag(dst *flexBool) bool {
	v, ok := d.value()
	if ok {
		dst.read(v)
	}
	return ok
}

// plainString returns the contents of the JSON string v when they need no
// unquoting: no escapes and valid UTF-8, so the decoded value is the
// bytes between the quotes.
func plainString(v []byte) ([]byte, bool) {
	s := v[1 : len(v)-1]
	return s, bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s)
}
