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
	raw  rawRecord                     // what parse fills
	fold [maxFolded + utf8.UTFMax]byte // scratch for foldName
}

var decoders = sync.Pool{New: func() any { return new(decoder) }}

// decodeOpts make jsontext accept what encoding/json accepts: duplicate
// names (the last one wins) and invalid UTF-8 inside strings.
var decodeOpts = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

// errDeclined is the fast path's word that encoding/json must decide.
var errDeclined = errors.New("cloudtrail: declined by the fast path")

// parse is Parse's fast path: the same steps as parseStd on the same
// rawRecord, or errDeclined. The rawRecord lives in d, so it costs no
// allocation.
func (d *decoder) parse(data []byte) (*Record, error) {
	defer d.release()
	raw := &d.raw
	if !d.decode(data, raw) {
		return nil, errDeclined
	}
	if inner := raw.wrapped(); inner != nil {
		*raw = rawRecord{}
		if !d.decode(inner, raw) {
			return nil, errDeclined
		}
	}
	raw.ownRaw()
	return raw.record(nil)
}

// decode fills raw from data, which must be exactly one JSON object.
func (d *decoder) decode(data []byte, raw *rawRecord) bool {
	d.in = *bytes.NewBuffer(data)
	d.dec.Reset(&d.in, decodeOpts...)
	if d.dec.PeekKind() != '{' || !d.object(raw.setTop) {
		return false
	}
	_, err := d.dec.ReadToken()
	return err == io.EOF // nothing but space may follow the record
}

// release drops every reference to the input, so a pooled decoder pins
// no caller's bytes.
func (d *decoder) release() {
	d.raw = rawRecord{}
	d.in = bytes.Buffer{}
	d.dec.Reset(&d.in)
}

// object reads an object whose '{' is next, calling set for every member
// with the name folded (see foldName); set reads the member's value. A
// false from set, or a syntax error, stops the walk.
func (d *decoder) object(set func(d *decoder, folded []byte) bool) bool {
	if _, err := d.dec.ReadToken(); err != nil {
		return false
	}
	for d.dec.PeekKind() == '"' {
		// The folded name lives in d.fold until set has matched it.
		name, err := d.dec.ReadValue()
		if err != nil || !set(d, foldName(d.fold[:0], name)) {
			return false
		}
	}
	tok, err := d.dec.ReadToken()
	return err == nil && tok.Kind() == '}'
}

// skip steps over a value the record does not need.
func (d *decoder) skip() bool {
	_, err := d.dec.ReadValue()
	return err == nil
}

// str reads a string field: a string sets it, null leaves it as it was
// (as encoding/json does), anything else declines.
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
		return json.Unmarshal(v, dst) == nil // escapes: encoding/json's own unquoting
	case cached:
		*dst = d.strs.get(s)
	default:
		*dst = string(s)
	}
	return true
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

// inner reads a nested object field: an object is merged into what the
// field holds (as encoding/json does), null leaves it, anything else
// declines.
func (d *decoder) inner(set func(d *decoder, folded []byte) bool) bool {
	switch d.dec.PeekKind() {
	case 'n':
		return d.skip()
	case '{':
		return d.object(set)
	}
	return false
}

// plainString returns the contents of the JSON string v when they need no
// unquoting: no escapes and valid UTF-8, so the decoded value is the
// bytes between the quotes.
func plainString(v []byte) ([]byte, bool) {
	s := v[1 : len(v)-1]
	return s, bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s)
}
