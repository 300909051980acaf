package cloudtrail

import (
	"bytes"
	"encoding/json"
	"strings"
)

// checkKeys returns the ambiguous_key error of the first key, in the
// order the record is written, that appears twice among the keys Parse
// reads or that encoding/json would match to one of them without being it
// exactly; nil when there is none. data must be one valid JSON object.
//
// It is the reference the fast path is checked against, so it is written
// independently of it: encoding/json's tokens and strings.EqualFold (the
// rule encoding/json matches keys by) over fieldKeys.
func checkKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // '{'
		return nil
	}
	return checkObject(dec, objRecord, "")
}

// checkObject checks the members of an open object of kind k, whose path
// is prefix, through its '}'.
func checkObject(dec *json.Decoder, k objKind, prefix string) error {
	seen := map[field]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil // cannot happen on valid JSON; encoding/json has spoken
		}
		key, _ := tok.(string)
		f := keyField(k, key)
		switch {
		case f == noField:
		case key != fieldKeys[f]:
			return errVariant(prefix+fieldKeys[f], key)
		case seen[f]:
			return errDuplicate(prefix + key)
		}
		if f != noField {
			seen[f] = true
		}
		if err := checkValue(dec, f, prefix+key+"."); err != nil {
			return err
		}
	}
	_, _ = dec.Token() // '}'
	return nil
}

// checkValue checks the value of field f: the keys of an object Parse
// reads into, nothing in any other value.
func checkValue(dec *json.Decoder, f field, prefix string) error {
	var v json.RawMessage
	if dec.Decode(&v) != nil {
		return nil
	}
	child, ok := f.child()
	if !ok || firstByte(v) != '{' {
		return nil
	}
	inner := json.NewDecoder(bytes.NewReader(v))
	_, _ = inner.Token() // '{'
	return checkObject(inner, child, prefix)
}

// keyField returns the field of an object of kind k that key matches
// under encoding/json's case-insensitive rule, or noField.
func keyField(k objKind, key string) field {
	for f := kindFields[k][0]; f < kindFields[k][1]; f++ {
		if strings.EqualFold(key, fieldKeys[f]) {
			return f
		}
	}
	return noField
}
