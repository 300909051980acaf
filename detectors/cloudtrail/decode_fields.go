package cloudtrail

import (
	"encoding/json"
	"unicode"
	"unicode/utf8"
)

// The set methods below map a member name, folded by foldName, to the
// rawRecord field encoding/json would fill, and read the value into it.
// Matching folded names is encoding/json's rule ("exact name first, then
// case-insensitive") because no two fields of one object fold alike.

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
	case "USERAGENT":
		return d.str(&r.UserAgent, true)
	case "VPCENDPOINTID":
		return d.str(&r.VPCEndpointID, true)
	case "RECIPIENTACCOUNTID":
		return d.str(&r.RecipientAccountID, true)
	case "SOURCEIPADDRESS":
		return d.str(&r.SourceIPAddress, true)
	case "USERIDENTITY":
		return d.inner(r.UserIdentity.set)
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
	case "SESSIONCONTEXT":
		return d.inner(u.SessionContext.set)
	}
	return d.skip()
}

func (c *rawSessionContext) set(d *decoder, name []byte) bool {
	switch string(name) {
	case "SESSIONISSUER":
		return d.inner(c.SessionIssuer.set)
	case "SOURCEIDENTITY":
		return d.str(&c.SourceIdentity, true)
	case "ATTRIBUTES":
		return d.inner(c.Attributes.set)
	}
	return d.skip()
}

func (a *rawAttributes) set(d *decoder, name []byte) bool {
	if string(name) == "MFAAUTHENTICATED" {
		return d.flag(&a.MFAAuthenticated)
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
	name, plain := plainString(q)
	if !plain {
		var s string
		if json.Unmarshal(q, &s) != nil {
			return nil
		}
		name = []byte(s)
	}
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
