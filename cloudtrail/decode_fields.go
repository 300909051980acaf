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
)

// object reads the members of an open object of kind k into r, through
// the '}'. Members are matched on their folded names: that is
// encoding/json's rule ("exact name first, then case-insensitive")
// because no two fields of one object fold alike.
func (r *rawRecord) object(d *decoder, k objKind) bool {
	for {
		name, end, ok := d.member()
		if end || !ok {
			return ok
		}
		if !r.member(d, k, name) {
			return false
		}
	}
}

// member reads one member's value; members r has no field for are skipped.
func (r *rawRecord) member(d *decoder, k objKind, name []byte) bool {
	if child, ok := childKind(k, name); ok {
		return r.nested(d, child)
	}
	switch k {
	case objRecord:
		return r.setTop(d, name)
	case objIdentity:
		return r.UserIdentity.set(d, name)
	case objSessionContext:
		return r.UserIdentity.SessionContext.set(d, name)
	case objSessionIssuer:
		return r.UserIdentity.SessionContext.SessionIssuer.set(d, name)
	}
	if string(name) == "MFAAUTHENTICATED" { // objAttributes
		return d.flag(&r.UserIdentity.SessionContext.Attributes.MFAAuthenticated)
	}
	return d.skip()
}

// childKind reports whether member name of an object of kind k holds an
// object that r has fields in, and which.
func childKind(k objKind, name []byte) (objKind, bool) {
	switch {
	case k == objRecord && string(name) == "USERIDENTITY":
		return objIdentity, true
	case k == objIdentity && string(name) == "SESSIONCONTEXT":
		return objSessionContext, true
	case k == objSessionContext && string(name) == "SESSIONISSUER":
		return objSessionIssuer, true
	case k == objSessionContext && string(name) == "ATTRIBUTES":
		return objAttributes, true
	}
	return 0, false
}

// nested reads a member that holds an object of kind k: an object is
// merged into what r holds, as encoding/json does; null leaves it.
func (r *rawRecord) nested(d *decoder, k objKind) bool {
	obj, ok := d.open()
	return ok && (!obj || r.object(d, k))
}

func (r *rawRecord) setTop(d *decoder, name []byte) bool {
	switch string(name) {
	case "EVENTID":
		return d.str(&r.EventID, false)
	case "EVENTNAME":
		return d.str(&r.EventName, true)
	case "EVENTSOURCE":
		return d.str(&r.EventSource, true)
	case "EVENTTIME":
		return d.str(&r.EventTime, true)
	case "EVENTTYPE":
		return d.str(&r.EventType, true)
	case "AWSREGION":
		return d.str(&r.AWSRegion, true)
	case "ERRORCODE":
		return d.str(&r.ErrorCode, true)
	case "ERRORMESSAGE":
		return d.str(&r.ErrorMessage, true)
	case "READONLY":
		return d.flag(&r.ReadOnly)
	case "SESSIONCREDENTIALFROMCONSOLE":
		return d.flag(&r.FromConsole)
	case "USERAGENT":
		return d.str(&r.UserAgent, true)
	case "VPCENDPOINTID":
		return d.str(&r.VPCEndpointID, true)
	case "RECIPIENTACCOUNTID":
		return d.str(&r.RecipientAccountID, true)
	case "SOURCEIPADDRESS":
		return d.str(&r.SourceIPAddress, true)
	case "REQUESTPARAMETERS":
		return d.rawValue(&r.RequestParameters)
	case "RESPONSEELEMENTS":
		return d.rawValue(&r.ResponseElements)
	case "DETAIL-TYPE":
		return d.str(&r.DetailType, true)
	case "DETAIL":
		return d.rawValue(&r.Detail)
	case "EVENT":
		return d.rawValue(&r.Event)
	case "RECORDS":
		return d.rawValue(&r.Records)
	}
	return d.skip()
}

func (u *rawIdentity) set(d *decoder, name []byte) bool {
	switch string(name) {
	case "TYPE":
		return d.str(&u.Type, true)
	case "PRINCIPALID":
		return d.str(&u.PrincipalID, true)
	case "ARN":
		return d.str(&u.ARN, true)
	case "ACCOUNTID":
		return d.str(&u.AccountID, true)
	case "ACCESSKEYID":
		return d.str(&u.AccessKeyID, true)
	case "USERNAME":
		return d.str(&u.UserName, true)
	case "INVOKEDBY":
		return d.str(&u.InvokedBy, true)
	}
	return d.skip()
}

func (c *rawSessionContext) set(d *decoder, name []byte) bool {
	if string(name) == "SOURCEIDENTITY" {
		return d.str(&c.SourceIdentity, true)
	}
	return d.skip()
}

// set matches SessionIssuer's Go field names, as encoding/json does for a
// struct without tags.
func (s *rawIssuer) set(d *decoder, name []byte) bool {
	switch string(name) {
	case "TYPE":
		return d.str(&s.Type, true)
	case "PRINCIPALID":
		return d.str(&s.PrincipalID, true)
	case "ARN":
		return d.str(&s.ARN, true)
	case "ACCOUNTID":
		return d.str(&s.AccountID, true)
	case "USERNAME":
		return d.str(&s.UserName, true)
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
