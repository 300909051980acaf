package cloudtrail

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unsafe"
)

// Options tune parsing and reading. The zero value is ready to use.
type Options struct {
	// MaxRecordSize is the largest record, in bytes of JSON, that is
	// accepted; 0 means DefaultMaxRecordSize.
	MaxRecordSize int
}

func (o Options) maxSize() int {
	if o.MaxRecordSize <= 0 {
		return DefaultMaxRecordSize
	}
	return o.MaxRecordSize
}

// eventBridgeDetailType is the detail-type EventBridge gives CloudTrail events.
const eventBridgeDetailType = "AWS API Call via CloudTrail"

// Parse decodes one CloudTrail record from its JSON.
//
// It rejects, with a *RecordError, a record that is larger than
// opts.MaxRecordSize (checked before decoding), is not JSON, is not an
// object, lacks eventName, eventSource, eventTime or eventID (absent, null
// or "" count as missing), has an eventTime that is not RFC 3339, or holds
// a field of the wrong JSON type. Nothing else is an error: a
// sourceIPAddress that is not an IP leaves SourceIP invalid, and an absent
// or null userIdentity leaves UserIdentity zero.
//
// Parse unwraps one level of wrapper when the object has no eventName:
// an EventBridge event (detail-type "AWS API Call via CloudTrail" with a
// detail object) yields its detail, and a rule-test fixture (an object with
// an event object, as in Panther's tests) yields its event.
//
// Keys match exactly as CloudTrail writes them ("eventName", "userIdentity",
// "arn", ...). A record that holds one of those keys twice, or a key that
// differs from one only in case or by Unicode folding ("EventName",
// "eventſource"), is rejected as ambiguous_key: readers disagree on which
// value counts (encoding/json folds case and takes the last, jq and Python
// take the last exact key, others the first), so no reading of it can be
// trusted to be the one a SIEM shows.
//
// Records are read by a single-pass token decoder (see decoder); input it
// declines, which is input Parse rejects or nearly so, is decoded again
// with encoding/json so that rejections read exactly as they always have.
// The Record shares no memory with data.
func Parse(data []byte, opts Options) (*Record, error) {
	rec := new(Record)
	if err := ParseInto(rec, data, opts); err != nil {
		return nil, err
	}
	return rec, nil
}

// ParseInto is Parse writing into rec rather than into a Record of its
// own, so a caller holding a batch of records in one slice makes one
// allocation for the batch, not one per record. It accepts and rejects
// exactly what Parse does; on an error it leaves rec as it was.
func ParseInto(rec *Record, data []byte, opts Options) error {
	if limit := opts.maxSize(); len(data) > limit {
		return errTooLarge(len(data), limit)
	}
	d := getDecoder()
	err := d.parse(data, rec)
	putDecoder(d)
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

// parseStd decodes with encoding/json. It is the reference the fast path
// matches, and it words every rejection the fast path declines.
func parseStd(data []byte) (*Record, error) {
	var raw rawRecord
	decErr := json.Unmarshal(data, &raw)
	var se *json.SyntaxError
	if errors.As(decErr, &se) {
		return nil, errNotJSON(decErr, 0)
	}
	if firstByte(data) != '{' {
		return nil, errNotObject(data)
	}
	// Without duplicate or variant keys, encoding/json's case-insensitive
	// matching reads exactly the keys CloudTrail writes.
	if err := checkKeys(data); err != nil {
		return nil, err
	}
	if inner := raw.wrapped(); inner != nil {
		return parseInner(inner)
	}
	return raw.record(decErr)
}

// parseInner decodes a wrapper's inner record; wrappers nest one level only.
func parseInner(data []byte) (*Record, error) {
	var raw rawRecord
	decErr := json.Unmarshal(data, &raw)
	if err := checkKeys(data); err != nil {
		return nil, err
	}
	return raw.record(decErr)
}

// rawRecord is the decoding shape: only the fields Record needs, so
// encoding/json skips everything else without building values for it.
type rawRecord struct {
	EventID              string          `json:"eventID"`
	EventName            string          `json:"eventName"`
	EventSource          string          `json:"eventSource"`
	EventTime            string          `json:"eventTime"`
	EventType            string          `json:"eventType"`
	AWSRegion            string          `json:"awsRegion"`
	ErrorCode            string          `json:"errorCode"`
	ErrorMessage         string          `json:"errorMessage"`
	ReadOnly             flexBool        `json:"readOnly"`
	UserAgent            string          `json:"userAgent"`
	VPCEndpointID        string          `json:"vpcEndpointId"`
	VPCEndpointAccountID string          `json:"vpcEndpointAccountId"`
	RecipientAccountID   string          `json:"recipientAccountId"`
	FromConsole          flexBool        `json:"sessionCredentialFromConsole"`
	SourceIPAddress      string          `json:"sourceIPAddress"`
	UserIdentity         rawIdentity     `json:"userIdentity"`
	RequestParameters    json.RawMessage `json:"requestParameters"`
	ResponseElements     json.RawMessage `json:"responseElements"`
	AdditionalEventData  json.RawMessage `json:"additionalEventData"`

	// Wrapper keys (see Parse).
	DetailType string          `json:"detail-type"`
	Detail     json.RawMessage `json:"detail"`
	Event      json.RawMessage `json:"event"`
	// Records is only looked at to explain a misplaced S3 envelope.
	Records json.RawMessage `json:"Records"`

	// eventTime is set by the fast path instead of EventTime when
	// eventTime is a plain string: its bytes, aliasing the input (see
	// parseTimeBytes).
	eventTime []byte
	// eventID is, likewise, eventID's bytes when it is a plain string:
	// ownRaw copies it into the allocation it makes for the raw values.
	eventID []byte
}

type rawIdentity struct {
	Type           string            `json:"type"`
	PrincipalID    string            `json:"principalId"`
	ARN            string            `json:"arn"`
	AccountID      string            `json:"accountId"`
	AccessKeyID    string            `json:"accessKeyId"`
	UserName       string            `json:"userName"`
	InvokedBy      string            `json:"invokedBy"`
	SessionContext rawSessionContext `json:"sessionContext"`
}

type rawSessionContext struct {
	SessionIssuer  rawIssuer     `json:"sessionIssuer"`
	SourceIdentity string        `json:"sourceIdentity"`
	Attributes     rawAttributes `json:"attributes"`
}

type rawAttributes struct {
	MFAAuthenticated flexBool `json:"mfaAuthenticated"`
}

// rawIssuer is SessionIssuer with the keys CloudTrail writes.
type rawIssuer struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

// wrapped returns the inner record of a recognised wrapper, or nil.
func (r *rawRecord) wrapped() []byte {
	if r.EventName != "" {
		return nil
	}
	if r.DetailType == eventBridgeDetailType && firstByte(r.Detail) == '{' {
		return r.Detail
	}
	if firstByte(r.Event) == '{' {
		return r.Event
	}
	return nil
}

// record validates the decoded fields and builds the Record. decErr is
// json.Unmarshal's result: a type mismatch is reported before anything
// else because it explains an empty field better than "missing" would.
func (r *rawRecord) record(decErr error) (*Record, error) {
	rec := new(Record)
	if err := r.fill(rec, decErr, nil); err != nil {
		return nil, err
	}
	return rec, nil
}

// fill is record writing into rec, which it overwrites whole when it
// returns nil and leaves untouched otherwise. m, when not nil, is the
// decoder's memo of what the last record's values parsed to.
func (r *rawRecord) fill(rec *Record, decErr error, m *fillMemo) error {
	if err := r.check(decErr); err != nil {
		return err
	}
	var t time.Time
	var err error
	if r.eventTime != nil {
		var ok bool
		if t, ok = m.zulu(r.eventTime); !ok {
			t, err = parseTimeBytes(r.eventTime)
		}
	} else {
		t, err = parseTime(r.EventTime)
	}
	if err != nil {
		return err
	}
	// Field by field rather than *rec = Record{...}, which zeroed a
	// Record on the stack, filled it and copied it over rec: a tenth of
	// the reader's samples in a scan went to fill. Every field is
	// written, so rec is still overwritten whole (TestFillOverwritesAll).
	rec.EventID = r.EventID
	rec.EventName = r.EventName
	rec.EventSource = r.EventSource
	rec.EventTime = t
	rec.EventType = r.EventType
	rec.AWSRegion = r.AWSRegion
	rec.ErrorCode = r.ErrorCode
	rec.ErrorMessage = r.ErrorMessage
	rec.ReadOnly = r.ReadOnly.readOnly()
	rec.UserAgent = r.UserAgent
	rec.VPCEndpointID = r.VPCEndpointID
	rec.VPCEndpointAccountID = r.VPCEndpointAccountID
	rec.RecipientAccountID = r.RecipientAccountID
	// An odd sessionCredentialFromConsole is read as false rather than
	// rejected: it only ever relaxes a detector, so no record is lost.
	rec.SessionCredentialFromConsole = r.FromConsole.set && r.FromConsole.val
	rec.SourceIPAddress = r.SourceIPAddress
	rec.SourceIP = m.sourceIP(r.SourceIPAddress)
	r.UserIdentity.fillIdentity(&rec.UserIdentity)
	rec.RequestParameters = nilIfNull(r.RequestParameters)
	rec.ResponseElements = nilIfNull(r.ResponseElements)
	rec.AdditionalEventData = nilIfNull(r.AdditionalEventData)
	return nil
}

// mayBeIP is false for strings netip.ParseAddr is sure to reject for a
// reason that costs nothing to see: without a ':' an address can only be
// IPv4, all digits and dots. It keeps service names ("ec2.amazonaws.com")
// and "AWS Internal" from building an error only to drop it.
func mayBeIP(s string) bool {
	if strings.IndexByte(s, ':') >= 0 {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

func (r *rawRecord) check(decErr error) error {
	if decErr != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](decErr); ok {
			return errFieldType(te)
		}
		return errNotJSON(decErr, 0)
	}
	if kind := r.ReadOnly.bad; kind != "" {
		return errWrongType("readOnly", kind, "a bool")
	}
	if kind := r.UserIdentity.SessionContext.Attributes.MFAAuthenticated.bad; kind != "" {
		return errWrongType("userIdentity.sessionContext.attributes.mfaAuthenticated", kind, "a bool")
	}
	if f := r.missing(); f != "" {
		if firstByte(r.Records) == '[' {
			return recordErr(ReasonMissingField, f, "record is missing %s: it is an S3 delivery envelope "+
				`({"Records":[...]}); send each of its records as an event of its own`, f)
		}
		return errMissing(f)
	}
	return nil
}

// missing names the first required field that is empty, or returns "".
func (r *rawRecord) missing() string {
	switch {
	case r.EventName == "":
		return "eventName"
	case r.EventSource == "":
		return "eventSource"
	case r.EventTime == "" && len(r.eventTime) == 0:
		return "eventTime"
	case r.EventID == "" && len(r.eventID) == 0:
		return "eventID"
	}
	return ""
}

// fillIdentity writes every field of dst, as fill writes rec.
func (u *rawIdentity) fillIdentity(dst *UserIdentity) {
	sc := &u.SessionContext
	dst.Type = u.Type
	dst.PrincipalID = u.PrincipalID
	dst.ARN = u.ARN
	dst.AccountID = u.AccountID
	dst.AccessKeyID = u.AccessKeyID
	dst.UserName = u.UserName
	dst.InvokedBy = u.InvokedBy
	dst.SessionIssuer = SessionIssuer(sc.SessionIssuer)
	dst.SourceIdentity = sc.SourceIdentity
	dst.MFAAuthenticated = sc.Attributes.MFAAuthenticated.set && sc.Attributes.MFAAuthenticated.val
}

// sqlTimeLayout is the timestamp shape of SQL exports of CloudTrail
// (Athena, Snowflake, Panther's data lake): space-separated, no zone, UTC.
const sqlTimeLayout = "2006-01-02 15:04:05.999999999"

// parseTime accepts RFC 3339 with or without fractional seconds, and the
// zone-less SQL export shape as UTC; it returns UTC, so equal instants
// compare equal whatever offset they had.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t, err = time.Parse(sqlTimeLayout, s)
	}
	if err != nil {
		return time.Time{}, recordErr(ReasonBadEventTime, "eventTime",
			"eventTime %s is not RFC 3339 (e.g. 2024-08-01T13:42:21Z)", quoteShort(s))
	}
	return t.UTC(), nil
}

func nilIfNull(m json.RawMessage) json.RawMessage {
	if len(m) == 0 || string(m) == "null" {
		return nil
	}
	return m
}

// ownRaw copies the kept raw values, which alias the input, into one
// allocation of their own, as json.RawMessage's UnmarshalJSON would, and
// with them the fast path's eventID bytes, which become EventID: the
// record's one unique string, so one allocation per record serves both.
// EventID is a string over bytes no slice given out reaches, so nothing
// can change it.
func (r *rawRecord) ownRaw() {
	id := r.eventID
	req, resp, add := nilIfNull(r.RequestParameters), nilIfNull(r.ResponseElements), nilIfNull(r.AdditionalEventData)
	r.RequestParameters, r.ResponseElements, r.AdditionalEventData, r.eventID = nil, nil, nil, nil
	if len(id)+len(req)+len(resp)+len(add) == 0 {
		return
	}
	buf := make([]byte, len(id)+len(req)+len(resp)+len(add))
	k := copy(buf, id)
	if k > 0 {
		r.EventID = unsafe.String(&buf[0], k)
	}
	buf = buf[k:]
	n := copy(buf, req)
	m := n + copy(buf[n:], resp)
	copy(buf[m:], add)
	r.RequestParameters, r.ResponseElements, r.AdditionalEventData = nilIfNull(buf[:n:n]), nilIfNull(buf[n:m:m]), nilIfNull(buf[m:])
}

// lendRaw is ownRaw for a record whose raw values may go on aliasing the
// input (Reader.NextIntoBorrowed): they stay where they are, capped so
// that appending to one cannot reach the bytes after it, and only the
// eventID bytes are copied, into ids (see idBlock), since EventID outlives
// the input in verdicts, findings and stories.
func (r *rawRecord) lendRaw(ids *[]byte) {
	capped := func(m json.RawMessage) json.RawMessage {
		if m = nilIfNull(m); m != nil {
			m = m[:len(m):len(m)]
		}
		return m
	}
	r.RequestParameters, r.ResponseElements, r.AdditionalEventData = capped(r.RequestParameters), capped(r.ResponseElements), capped(r.AdditionalEventData)
	if id := r.eventID; len(id) > 0 {
		r.EventID = idString(ids, id)
	}
	r.eventID = nil
}

// idBlock is the size of the blocks lendRaw writes event ids into.
const idBlock = 2 << 10

// idString returns string(b) written into the current block of *ids, so
// that an event id costs no allocation of its own (one block serves some
// fifty records). Bytes once given out are never written again, so a
// string over them is as immutable as any; an id a caller keeps (a
// finding's, a story's) keeps its block, 2 KiB at most, alive.
func idString(ids *[]byte, b []byte) string {
	if len(*ids)+len(b) > cap(*ids) {
		*ids = make([]byte, 0, max(idBlock, len(b)))
	}
	start := len(*ids)
	*ids = append(*ids, b...)
	return unsafe.String(&(*ids)[start], len(b))
}

// flexBool decodes a JSON bool, the strings "true"/"false" (any case, as
// some exports write them) or null. Anything else is recorded in bad rather
// than returned, so one odd flag does not stop encoding/json from decoding
// the fields that follow it.
type flexBool struct {
	set, val bool
	bad      string // JSON kind of an unusable value
}

func (b *flexBool) UnmarshalJSON(data []byte) error {
	b.read(data)
	return nil
}

// read reads any JSON value into b.
func (b *flexBool) read(data []byte) {
	*b = flexBool{}
	s := data
	if firstByte(data) == '"' {
		s = unquoteFlag(data)
	}
	switch {
	case string(s) == "null":
	case string(s) == "true": // the JSON literals first: one comparison each
		b.set, b.val = true, true
	case string(s) == "false":
		b.set = true
	case bytes.EqualFold(s, []byte("true")):
		b.set, b.val = true, true
	case bytes.EqualFold(s, []byte("false")):
		b.set = true
	default:
		b.bad = kindOf(firstByte(data))
	}
}

// unquoteFlag returns the contents of a JSON string, or nothing when it
// is not one.
func unquoteFlag(data []byte) []byte {
	if len(data) >= 2 && data[0] == '"' && data[len(data)-1] == '"' {
		if s, plain := plainString(data); plain {
			return s
		}
	}
	var s string
	if json.Unmarshal(data, &s) != nil {
		return nil
	}
	return []byte(s)
}

func (b flexBool) readOnly() ReadOnly {
	switch {
	case !b.set:
		return ReadOnlyUnknown
	case b.val:
		return ReadOnlyTrue
	}
	return ReadOnlyFalse
}

// SourceIsIP reports whether sourceIPAddress held a literal IP address,
// as opposed to an AWS service name, "AWS Internal" or a malformed value.
func (r *Record) SourceIsIP() bool { return r.SourceIP.IsValid() }
