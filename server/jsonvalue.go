package server

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// This file renders shipped structured values (OTLP AnyValue, Vector Value)
// back into JSON, faithfully: key order kept where the source has one,
// integers exact, strings escaped as JSON requires.

// recordKeys mark an object as a CloudTrail record itself (a parsed record
// shipped as a key/value list).
var recordKeys = []string{"eventVersion", "eventID", "eventTime", "eventName"}

// wrapperKeys hold the record as a JSON string inside an object: Fluent
// Bit's in_tail without a parser ships {"log": "..."}, Vector's file and
// socket sources {"message": "..."}.
var wrapperKeys = []string{"message", "log"}

// errNotFinite is the reason for a NaN or infinite number, which JSON cannot
// carry.
var errNotFinite = errors.New("record holds a NaN or infinite number, which JSON cannot carry")

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, errNotFinite
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64), nil
}

// kindError says a body cannot be a CloudTrail record.
func kindError(what, kind string) error {
	return fmt.Errorf("%s is %s; want the CloudTrail record as a JSON string or a key/value map", what, kind)
}
