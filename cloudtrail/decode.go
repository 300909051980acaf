package cloudtrail

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// decoder is the fast path of Parse: it walks a record once with a
// jsontext token decoder, reads the values of the keys rawRecord names and
// steps over every other value (still checking its syntax). It decodes
// exactly what encoding/json would for inputs it accepts, and declines
// (ok false) everything else: a syntax error, a value of the wrong JSON
// type, anything that is not one object. Parse then runs encoding/json,
// so rejections keep its wording, offsets and field paths.
type decoder struct {
	in   bytes.Buffer // the record; jsontext reads a bytes.Buffer in place
	dec  jsontext.Decoder
	strs stringCache
	fold [maxFolded + utf8.UTFMax]byte // scratch for foldName
}

var decoders = sync.Pool{New: func() any { return new(decoder) }}

// decodeOpts make jsontext accept what encoding/json accepts: duplicate
// names (the last one wins) and invalid UTF-8 inside strings.
var decodeOpts = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

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
	return raw.fill(rec, nil)
}

// decode fills raw from data, which must be exactly one JSON object.
func (d *decoder) decode(data []byte, raw *rawRecord) bool {
	d.in = *bytes.NewBuffer(data)
	d.dec.Reset(&d.in, decodeOpts...)
	if obj, ok := d.open(); !obj || !ok || !raw.object(d, objRecord) {
		return false
	}
	_, err := d.dec.ReadToken()
	return err == io.EOF // nothing but space may follow the record
}

// release drops every reference to the input, so a pooled decoder pins
// no caller's bytes.
func (d *decoder) release() {
	d.in = bytes.Buffer{}
	d.dec.Reset(&d.in)
}

// open starts reading a field that holds an object: it consumes the '{'
// of an object (obj true) or a null (obj false, and encoding/json leaves
// the field as it was); any other value declines (ok false).
func (d *decoder) open() (obj, ok bool) {
	switch d.dec.PeekKind() {
	case '{':
		_, err := d.dec.ReadToken()
		return true, err == nil
	case 'n':
		return false, d.skip()
	}
	return false, false
}

// member reads the next member name of the open object: q is its quoted
// JSON (it aliases the input until the next read) and name its folded form
// (see foldName; it lives in d.fold until the next call); or the '}' that
// ends the object (end true). ok is false on a syntax error.
func (d *decoder) member() (q, name []byte, end, ok bool) {
	switch d.dec.PeekKind() {
	case '"':
		q, err := d.dec.ReadValue()
		if err != nil {
			return nil, nil, false, false
		}
		return q, foldName(d.fold[:0], q), false, true
	case '}':
		_, err := d.dec.ReadToken()
		return nil, nil, true, err == nil
	}
	return nil, nil, false, false
}

// skip steps over a value the record does not need.
func (d *decoder) skip() bool {
	_, err := d.dec.ReadValue()
	return err == nil
}

// str reads a string field: a string sets it, null leaves it as it was
// (as encoding/json does), anything else declines. Cached fields take
// their strings from d.strs.
func (d *decoder) str(dst *string, cached bool) bool {
	switch d.dec.PeekKind() {
	case 'n':
		return d.skip()
	case '"':
	default:
		return false
	}
	v, err := d.dec.ReadValue()
	if err != nil {
		return false
	}
	s, plain := plainString(v)
	switch {
	case !plain:
		*dst, err = unquoteStd(v)
		return err == nil
	case cached:
		*dst = d.strs.get(s)
	default:
		*dst = string(s)
	}
	return true
}

// timeStr reads eventTime as str does, except that a plain string is
// kept as its bytes in raw (aliasing the input) rather than made a
// string: it is parsed once, in fill, and never kept.
func (d *decoder) timeStr(dst *string, raw *[]byte) bool {
	if d.dec.PeekKind() != '"' {
		return d.str(dst, false)
	}
	v, err := d.dec.ReadValue()
	if err != nil {
		return false
	}
	if s, plain := plainString(v); plain {
		*raw = s
		return true
	}
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
	v, err := d.dec.ReadValue()
	*dst = json.RawMessage(v)
	return err == nil
}

// flag reads a flexBool, which takes any JSON value.
func (d *decoder) flag(dst *flexBool) bool {
	v, err := d.dec.ReadValue()
	if err != nil {
		return false
	}
	dst.read(v)
	return true
}

// plainString returns the contents of the JSON string v when they need no
// unquoting: no escapes and valid UTF-8, so the decoded value is the
// bytes between the quotes.
func plainString(v []byte) ([]byte, bool) {
	s := v[1 : len(v)-1]
	return s, bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s)
}
