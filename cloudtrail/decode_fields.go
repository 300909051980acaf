package cloudtrail

import (
	"bytes"
	"encoding/json"
	"unicode"
	"unicode/utf8"
)

// objKind names the objects of a record that Parse reads into.
type objKind int8

const (
	objRecord objKind = iota
	objIdentity
	objSessionContext
	objSessionIssuer
	objAttributes
	numKinds
)

// field names one key Parse reads, in one kind of object.
type field int8

const (
	fEventID field = iota
	fEventName
	fEventSource
	fEventTime
	fEventType
	fAWSRegion
	fErrorCode
	fErrorMessage
	fReadOnly
	fFromConsole
	fUserAgent
	fVPCEndpointID
	fVPCEndpointAccountID
	fRecipientAccountID
	fSourceIPAddress
	fRequestParameters
	fResponseElements
	fAdditionalEventData
	fDetailType
	fDetail
	fEvent
	fRecords
	fUserIdentity
	fIdentityType
	fIdentityPrincipalID
	fIdentityARN
	fIdentityAccountID
	fAccessKeyID
	fIdentityUserName
	fInvokedBy
	fSessionContext
	fSourceIdentity
	fSessionIssuer
	fAttributes
	fIssuerType
	fIssuerPrincipalID
	fIssuerARN
	fIssuerAccountID
	fIssuerUserName
	fMFAAuthenticated
	numFields
	noField field = -1
)

// fieldKeys are the keys exactly as CloudTrail writes them (and as
// rawRecord's tags name them). A record's key matches a field only when
// it is exactly this.
var fieldKeys = [numFields]string{
	fEventID: "eventID", fEventName: "eventName", fEventSource: "eventSource", fEventTime: "eventTime",
	fEventType: "eventType", fAWSRegion: "awsRegion", fErrorCode: "errorCode", fErrorMessage: "errorMessage",
	fReadOnly: "readOnly", fFromConsole: "sessionCredentialFromConsole", fUserAgent: "userAgent",
	fVPCEndpointID: "vpcEndpointId", fVPCEndpointAccountID: "vpcEndpointAccountId",
	fRecipientAccountID: "recipientAccountId", fSourceIPAddress: "sourceIPAddress",
	fRequestParameters: "requestParameters", fResponseElements: "responseElements",
	fAdditionalEventData: "additionalEventData",
	fDetailType:          "detail-type", fDetail: "detail", fEvent: "event", fRecords: "Records", fUserIdentity: "userIdentity",
	fIdentityType: "type", fIdentityPrincipalID: "principalId", fIdentityARN: "arn", fIdentityAccountID: "accountId",
	fAccessKeyID: "accessKeyId", fIdentityUserName: "userName", fInvokedBy: "invokedBy", fSessionContext: "sessionContext",
	fSourceIdentity: "sourceIdentity", fSessionIssuer: "sessionIssuer", fAttributes: "attributes",
	fIssuerType: "type", fIssuerPrincipalID: "principalId", fIssuerARN: "arn", fIssuerAccountID: "accountId",
	fIssuerUserName:   "userName",
	fMFAAuthenticated: "mfaAuthenticated",
}

// kindFields are the fields of each kind of object, as a range of field.
var kindFields = [numKinds][2]field{
	objRecord:         {fEventID, fUserIdentity + 1},
	objIdentity:       {fIdentityType, fSessionContext + 1},
	objSessionContext: {fSourceIdentity, fAttributes + 1},
	objSessionIssuer:  {fIssuerType, fIssuerUserName + 1},
	objAttributes:     {fMFAAuthenticated, fMFAAuthenticated + 1},
}

// child is the kind of object a field holds, for the fields Parse reads
// into rather than reading whole.
func (f field) child() (objKind, bool) {
	switch f {
	case fUserIdentity:
		return objIdentity, true
	case fSessionContext:
		return objSessionContext, true
	case fSessionIssuer:
		return objSessionIssuer, true
	case fAttributes:
		return objAttributes, true
	}
	return 0, false
}

// object reads the members of an open object of kind k into r, through
// the '}'. A member is read when its key is exactly a field's. The fast
// path declines (ok false) a record whose reading depends on the reader:
// a field's key twice, or a key encoding/json would also match to a field
// (another case, a Unicode fold such as ſ for s, an escape). parseStd
// words the ambiguous_key rejection, or, for an escaped exact key, reads
// it.
func (r *rawRecord) object(d *decoder, k objKind) bool {
	var seen uint64
	keys := &d.keys[k]
	for n := 0; ; n++ {
		// A record written as CloudTrail writes one, with no space between
		// tokens, has at member position n the key remembered there (keys
		// are the memos of the object's kind, decode_memo.go): the comma
		// before it, the key and its colon are read in one comparison,
		// and a remembered key matched its field exactly. Else, and for a
		// key too near the end of the input for whole words to be loaded
		// (only the last record of an input meets one), member reads it.
		// This runs for every member of every record, so it is written
		// out here rather than called (as memoMember was): the call and
		// what it spilled were 4 instructions of a member's 130, 16M over
		// the realistic month.
		f, ok := noField, false
		if i := d.i; n < maxMemoKeys && i+maxMemoKey <= len(d.b) {
			w := (*[maxMemoKey]byte)(d.b[i : i+maxMemoKey])
			ways := &keys[n]
			m := &ways[0]
			if !m.at(w) {
				m = nil
				if ways[1].at(w) {
					// The second key met here is the one met last now: it
					// goes first, so that a rare key, once met, does not
					// leave every later record's usual key to the second
					// comparison.
					ways[0], ways[1] = ways[1], ways[0]
					m = &ways[0]
				}
			}
			if m != nil {
				j := i + int(m.n)
				d.i, d.more = j, true
				if j < len(d.b) && d.b[j] <= ' ' {
					d.spaceAfterKey()
				}
				f, ok = m.f, true
			}
		}
		if !ok {
			var exact, end bool
			if f, exact, end, ok = d.member(k, n); end || !ok {
				return ok
			}
			if !exact && f != noField {
				return false
			}
		}
		if f == noField {
			if !d.skip() {
				return false
			}
			continue
		}
		// f is a field, below 64: the mask makes that plain to the compiler.
		bit := uint64(1) << (uint(f) & 63)
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if !r.set(d, f) {
			return false
		}
	}
}

// nested reads a member that holds an object of kind k: an object is
// merged into what r holds, as encoding/json does; null leaves it.
func (r *rawRecord) nested(d *decoder, k objKind) bool {
	obj, ok := d.open()
	return ok && (!obj || r.object(d, k))
}

// keySlots is the size of each kind's open-addressed table of keys: a
// few times the keys, so that most are found at their first slot.
const (
	keyBits  = 7
	keySlots = 1 << keyBits
)

// keyTable finds a field by the hash of its key in one case (keyHash).
var keyTable = func() (t [numKinds][keySlots]field) {
	for k := range t {
		for i := range t[k] {
			t[k][i] = noField
		}
		for f := kindFields[k][0]; f < kindFields[k][1]; f++ {
			i := keyHash([]byte(fieldKeys[f]))
			for t[k][i] != noField {
				i = (i + 1) % keySlots
			}
			t[k][i] = f
		}
	}
	return t
}()

// keyHash hashes an ASCII name with its letters in lower case (and some
// other bytes merged with them, which only costs a comparison). It reads
// the length and three bytes, so it costs the same for any name: keys
// that collide are told apart by the comparison after it.
func keyHash(name []byte) uint32 {
	h := uint32(len(name))
	if n := len(name); n > 0 {
		h = h<<24 ^ uint32(name[0]|0x20)<<16 ^ uint32(name[n/2]|0x20)<<8 ^ uint32(name[n-1]|0x20)
	}
	return (h * 0x9e3779b1) >> (32 - keyBits)
}

// asciiField is fieldOf for a name of printable ASCII without escapes,
// whose folded form is its letters in upper case: the field whose key
// equals name but for the case of letters, or noField; and whether name
// is the key exactly. The keys of one kind differ by more than case, so
// the exact comparison, CloudTrail's case, comes first and the folding
// one only for names that are not a key.
func asciiField(k objKind, name []byte) (f field, exact bool) {
	for i := keyHash(name); ; i = (i + 1) % keySlots {
		f = keyTable[k][i]
		switch {
		case f == noField:
			return f, false
		case string(name) == fieldKeys[f]:
			return f, true
		case equalFoldASCII(name, fieldKeys[f]):
			return f, false
		}
	}
}

// equalFoldASCII reports whether a and b are equal but for the case of
// ASCII letters.
func equalFoldASCII(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if x, y := a[i], b[i]; x != y && (x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z') {
			return false
		}
	}
	return true
}

// fieldOf returns the field whose key folds to name in an object of kind
// k (see foldName), or noField.
func fieldOf(k objKind, name []byte) field {
	switch k {
	case objRecord:
		return topField(name)
	case objIdentity:
		return identityField(name)
	case objSessionContext:
		switch string(name) {
		case "SOURCEIDENTITY":
			return fSourceIdentity
		case "SESSIONISSUER":
			return fSessionIssuer
		case "ATTRIBUTES":
			return fAttributes
		}
	case objSessionIssuer:
		return issuerField(name)
	case objAttributes:
		if string(name) == "MFAAUTHENTICATED" {
			return fMFAAuthenticated
		}
	}
	return noField
}

func topField(name []byte) field {
	switch string(name) {
	case "EVENTID":
		return fEventID
	case "EVENTNAME":
		return fEventName
	case "EVENTSOURCE":
		return fEventSource
	case "EVENTTIME":
		return fEventTime
	case "EVENTTYPE":
		return fEventType
	case "AWSREGION":
		return fAWSRegion
	case "ERRORCODE":
		return fErrorCode
	case "ERRORMESSAGE":
		return fErrorMessage
	case "READONLY":
		return fReadOnly
	case "SESSIONCREDENTIALFROMCONSOLE":
		return fFromConsole
	case "USERAGENT":
		return fUserAgent
	case "VPCENDPOINTID":
		return fVPCEndpointID
	case "VPCENDPOINTACCOUNTID":
		return fVPCEndpointAccountID
	case "RECIPIENTACCOUNTID":
		return fRecipientAccountID
	case "SOURCEIPADDRESS":
		return fSourceIPAddress
	case "REQUESTPARAMETERS":
		return fRequestParameters
	case "RESPONSEELEMENTS":
		return fResponseElements
	case "ADDITIONALEVENTDATA":
		return fAdditionalEventData
	case "DETAIL-TYPE":
		return fDetailType
	case "DETAIL":
		return fDetail
	case "EVENT":
		return fEvent
	case "RECORDS":
		return fRecords
	case "USERIDENTITY":
		return fUserIdentity
	}
	return noField
}

func identityField(name []byte) field {
	switch string(name) {
	case "TYPE":
		return fIdentityType
	case "PRINCIPALID":
		return fIdentityPrincipalID
	case "ARN":
		return fIdentityARN
	case "ACCOUNTID":
		return fIdentityAccountID
	case "ACCESSKEYID":
		return fAccessKeyID
	case "USERNAME":
		return fIdentityUserName
	case "INVOKEDBY":
		return fInvokedBy
	case "SESSIONCONTEXT":
		return fSessionContext
	}
	return noField
}

func issuerField(name []byte) field {
	switch string(name) {
	case "TYPE":
		return fIssuerType
	case "PRINCIPALID":
		return fIssuerPrincipalID
	case "ARN":
		return fIssuerARN
	case "ACCOUNTID":
		return fIssuerAccountID
	case "USERNAME":
		return fIssuerUserName
	}
	return noField
}

// set reads field f's value into r.
func (r *rawRecord) set(d *decoder, f field) bool {
	// One switch, the top level's fields first: the checks for
	// userIdentity, the objects within it and its other fields that used
	// to come before it cost every member of every record.
	switch f {
	case fEventID:
		return d.strBytes(&r.EventID, &r.eventID)
	case fEventName:
		return d.str(&r.EventName, fEventName)
	case fEventSource:
		return d.str(&r.EventSource, fEventSource)
	case fEventTime:
		return d.strBytes(&r.EventTime, &r.eventTime)
	case fEventType:
		return d.str(&r.EventType, fEventType)
	case fAWSRegion:
		return d.str(&r.AWSRegion, fAWSRegion)
	case fErrorCode:
		return d.str(&r.ErrorCode, fErrorCode)
	case fErrorMessage:
		return d.str(&r.ErrorMessage, fErrorMessage)
	case fReadOnly:
		return d.flag(&r.ReadOnly)
	case fFromConsole:
		return d.flag(&r.FromConsole)
	case fUserAgent:
		return d.str(&r.UserAgent, fUserAgent)
	case fVPCEndpointID:
		return d.str(&r.VPCEndpointID, fVPCEndpointID)
	case fVPCEndpointAccountID:
		return d.str(&r.VPCEndpointAccountID, fVPCEndpointAccountID)
	case fRecipientAccountID:
		return d.str(&r.RecipientAccountID, fRecipientAccountID)
	case fSourceIPAddress:
		return d.str(&r.SourceIPAddress, fSourceIPAddress)
	case fRequestParameters:
		return d.rawValue(&r.RequestParameters)
	case fResponseElements:
		return d.rawValue(&r.ResponseElements)
	case fAdditionalEventData:
		return d.rawValue(&r.AdditionalEventData)
	case fDetailType:
		return d.str(&r.DetailType, fDetailType)
	case fDetail:
		return d.rawValue(&r.Detail)
	case fEvent:
		return d.rawValue(&r.Event)
	case fRecords:
		return !d.noRecords && d.rawValue(&r.Records)
	case fUserIdentity:
		return r.userIdentity(d)
	case fSessionContext, fSessionIssuer, fAttributes:
		k, _ := f.child()
		return r.nested(d, k)
	}
	if f >= fIdentityType {
		return r.UserIdentity.set(d, f)
	}
	return d.skip()
}

func (u *rawIdentity) set(d *decoder, f field) bool {
	c := &u.SessionContext
	switch f {
	case fIdentityType:
		return d.str(&u.Type, fIdentityType)
	case fIdentityPrincipalID:
		return d.str(&u.PrincipalID, fIdentityPrincipalID)
	case fIdentityARN:
		return d.str(&u.ARN, fIdentityARN)
	case fIdentityAccountID:
		return d.str(&u.AccountID, fIdentityAccountID)
	case fAccessKeyID:
		return d.str(&u.AccessKeyID, fAccessKeyID)
	case fIdentityUserName:
		return d.str(&u.UserName, fIdentityUserName)
	case fInvokedBy:
		return d.str(&u.InvokedBy, fInvokedBy)
	case fSourceIdentity:
		return d.str(&c.SourceIdentity, fSourceIdentity)
	case fIssuerType:
		return d.str(&c.SessionIssuer.Type, fIssuerType)
	case fIssuerPrincipalID:
		return d.str(&c.SessionIssuer.PrincipalID, fIssuerPrincipalID)
	case fIssuerARN:
		return d.str(&c.SessionIssuer.ARN, fIssuerARN)
	case fIssuerAccountID:
		return d.str(&c.SessionIssuer.AccountID, fIssuerAccountID)
	case fIssuerUserName:
		return d.str(&c.SessionIssuer.UserName, fIssuerUserName)
	case fMFAAuthenticated:
		return d.flag(&c.Attributes.MFAAuthenticated)
	}
	return d.skip()
}

// maxFolded bounds a folded name; longer names match no field.
const maxFolded = 64

// foldName appends the folded form of the quoted JSON name q to dst, by
// encoding/json's rule (its fold.go): ASCII letters in upper case, other
// runes as the smallest rune of their case-folding orbit, so the Kelvin
// sign folds to K and the long s to S, as bytes.EqualFold has it. It
// returns nil for a name too long to match any field. dst must have room
// for maxFolded+utf8.UTFMax bytes, so folding never allocates.
func foldName(dst, q []byte) []byte {
	for _, c := range q[1 : len(q)-1] { // the common case: ASCII, no escapes
		if c >= utf8.RuneSelf || c == '\\' {
			return foldSlow(dst, q)
		}
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if dst = append(dst, c); len(dst) >= maxFolded {
			return nil // whatever follows, the folded name is too long
		}
	}
	return dst
}

// foldSlow is foldName for names with escapes or other than ASCII. Raw
// invalid UTF-8 folds to U+FFFD here as it does after unquoting.
func foldSlow(dst, q []byte) []byte {
	name := q[1 : len(q)-1]
	if bytes.IndexByte(name, '\\') >= 0 {
		var s string
		if json.Unmarshal(q, &s) != nil {
			return nil
		}
		name = []byte(s)
	}
	dst = dst[:0]
	for i := 0; i < len(name) && len(dst) < maxFolded; {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		dst = utf8.AppendRune(dst, foldRune(r))
		i += n
	}
	if len(dst) >= maxFolded {
		return nil
	}
	return dst
}

// foldRune returns the smallest rune of r's case-folding orbit.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
