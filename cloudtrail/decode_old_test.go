package cloudtrail

// The jsontext token decoder that was Parse's fast path until the byte
// decoder replaced it, kept as the oracle the byte decoder is fuzzed
// against (FuzzParseMatchesOld): oldParseInto is ParseInto as it was.

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// oldParseInto is ParseInto with the jsontext fast path.
func oldParseInto(rec *Record, data []byte, opts Options) error {
	if limit := opts.maxSize(); len(data) > limit {
		return errTooLarge(len(data), limit)
	}
	d := oldDecoders.Get().(*oldDecoder)
	err := d.parse(data, rec)
	oldDecoders.Put(d)
	if err == errDeclined {
		r, err := parseStd(data)
		if err != nil {
			return err
		}
		*rec = *r
		return nil
	}
	return err
}

// oldDecoder is the fast path of Parse: it walks a record once with a
// jsontext token oldDecoder, reads the values of the keys rawRecord names and
// steps over every other value (still checking its syntax). It decodes
// exactly what encoding/json would for inputs it accepts, and declines
// (ok false) everything else: a syntax error, a value of the wrong JSON
// type, anything that is not one object. Parse then runs encoding/json,
// so rejections keep its wording, offsets and field paths.
type oldDecoder struct {
	in   bytes.Buffer // the record; jsontext reads a bytes.Buffer in place
	dec  jsontext.Decoder
	strs stringCache
	fold [maxFolded + utf8.UTFMax]byte // scratch for foldName
}

var oldDecoders = sync.Pool{New: func() any { return new(oldDecoder) }}

// oldDecodeOpts make jsontext accept what encoding/json accepts: duplicate
// names (the last one wins) and invalid UTF-8 inside strings.
var oldDecodeOpts = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

// parse is Parse's fast path: the same steps as parseStd on the same
// rawRecord, or errDeclined.
// It fills rec, which it leaves untouched on an error.
func (d *oldDecoder) parse(data []byte, rec *Record) error {
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
	return raw.fill(rec, nil, nil)
}

// decode fills raw from data, which must be exactly one JSON object.
func (d *oldDecoder) decode(data []byte, raw *rawRecord) bool {
	d.in = *bytes.NewBuffer(data)
	d.dec.Reset(&d.in, oldDecodeOpts...)
	if obj, ok := d.open(); !obj || !ok || !oldObject(raw, d, objRecord) {
		return false
	}
	_, err := d.dec.ReadToken()
	return err == io.EOF // nothing but space may follow the record
}

// release drops every reference to the input, so a pooled oldDecoder pins
// no caller's bytes.
func (d *oldDecoder) release() {
	d.in = bytes.Buffer{}
	d.dec.Reset(&d.in)
}

// open starts reading a field that holds an object: it consumes the '{'
// of an object (obj true) or a null (obj false, and encoding/json leaves
// the field as it was); any other value declines (ok false).
func (d *oldDecoder) open() (obj, ok bool) {
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
func (d *oldDecoder) member() (q, name []byte, end, ok bool) {
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
func (d *oldDecoder) skip() bool {
	_, err := d.dec.ReadValue()
	return err == nil
}

// str reads a string field: a string sets it, null leaves it as it was
// (as encoding/json does), anything else declines. Cached fields take
// their strings from d.strs.
func (d *oldDecoder) str(dst *string, cached bool) bool {
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
func (d *oldDecoder) timeStr(dst *string, raw *[]byte) bool {
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

// rawValue reads a value kept as raw JSON. The bytes alias the input;
// rawRecord.ownRaw copies those the Record keeps.
func (d *oldDecoder) rawValue(dst *json.RawMessage) bool {
	v, err := d.dec.ReadValue()
	*dst = json.RawMessage(v)
	return err == nil
}

// flag reads a flexBool, which takes any JSON value.
func (d *oldDecoder) flag(dst *flexBool) bool {
	v, err := d.dec.ReadValue()
	if err != nil {
		return false
	}
	dst.read(v)
	return true
}

// object reads the members of an open object of kind k into r, through
// the '}'. A member is read when its key is exactly a field's. The fast
// path declines (ok false) a record whose reading depends on the reader:
// a field's key twice, or a key encoding/json would also match to a field
// (another case, a Unicode fold such as ſ for s, an escape). parseStd
// words the ambiguous_key rejection, or, for an escaped exact key, reads
// it.
func oldObject(r *rawRecord, d *oldDecoder, k objKind) bool {
	var seen uint64
	for {
		q, name, end, ok := d.member()
		if end || !ok {
			return ok
		}
		f := fieldOf(k, name)
		if f == noField {
			if !d.skip() {
				return false
			}
			continue
		}
		if seen&(1<<f) != 0 || string(q[1:len(q)-1]) != fieldKeys[f] {
			return false
		}
		seen |= 1 << f
		if !oldSet(r, d, f) {
			return false
		}
	}
}

// nested reads a member that holds an object of kind k: an object is
// merged into what r holds, as encoding/json does; null leaves it.
func oldNested(r *rawRecord, d *oldDecoder, k objKind) bool {
	obj, ok := d.open()
	return ok && (!obj || oldObject(r, d, k))
}

// set reads field f's value into r.
func oldSet(r *rawRecord, d *oldDecoder, f field) bool {
	if k, ok := f.child(); ok {
		return oldNested(r, d, k)
	}
	if f >= fIdentityType {
		return oldIdentitySet(&r.UserIdentity, d, f)
	}
	switch f {
	case fEventID:
		return d.str(&r.EventID, false)
	case fEventName:
		return d.str(&r.EventName, true)
	case fEventSource:
		return d.str(&r.EventSource, true)
	case fEventTime:
		return d.timeStr(&r.EventTime, &r.eventTime)
	case fEventType:
		return d.str(&r.EventType, true)
	case fAWSRegion:
		return d.str(&r.AWSRegion, true)
	case fErrorCode:
		return d.str(&r.ErrorCode, true)
	case fErrorMessage:
		return d.str(&r.ErrorMessage, true)
	case fReadOnly:
		return d.flag(&r.ReadOnly)
	case fFromConsole:
		return d.flag(&r.FromConsole)
	case fUserAgent:
		return d.str(&r.UserAgent, true)
	case fVPCEndpointID:
		return d.str(&r.VPCEndpointID, true)
	case fVPCEndpointAccountID:
		return d.str(&r.VPCEndpointAccountID, true)
	case fRecipientAccountID:
		return d.str(&r.RecipientAccountID, true)
	case fSourceIPAddress:
		return d.str(&r.SourceIPAddress, true)
	case fRequestParameters:
		return d.rawValue(&r.RequestParameters)
	case fResponseElements:
		return d.rawValue(&r.ResponseElements)
	case fAdditionalEventData:
		return d.rawValue(&r.AdditionalEventData)
	case fDetailType:
		return d.str(&r.DetailType, true)
	case fDetail:
		return d.rawValue(&r.Detail)
	case fEvent:
		return d.rawValue(&r.Event)
	case fRecords:
		return d.rawValue(&r.Records)
	}
	return d.skip()
}

func oldIdentitySet(u *rawIdentity, d *oldDecoder, f field) bool {
	c := &u.SessionContext
	switch f {
	case fIdentityType:
		return d.str(&u.Type, true)
	case fIdentityPrincipalID:
		return d.str(&u.PrincipalID, true)
	case fIdentityARN:
		return d.str(&u.ARN, true)
	case fIdentityAccountID:
		return d.str(&u.AccountID, true)
	case fAccessKeyID:
		return d.str(&u.AccessKeyID, true)
	case fIdentityUserName:
		return d.str(&u.UserName, true)
	case fInvokedBy:
		return d.str(&u.InvokedBy, true)
	case fSourceIdentity:
		return d.str(&c.SourceIdentity, true)
	case fIssuerType:
		return d.str(&c.SessionIssuer.Type, true)
	case fIssuerPrincipalID:
		return d.str(&c.SessionIssuer.PrincipalID, true)
	case fIssuerARN:
		return d.str(&c.SessionIssuer.ARN, true)
	case fIssuerAccountID:
		return d.str(&c.SessionIssuer.AccountID, true)
	case fIssuerUserName:
		return d.str(&c.SessionIssuer.UserName, true)
	case fMFAAuthenticated:
		return d.flag(&c.Attributes.MFAAuthenticated)
	}
	return d.skip()
}
