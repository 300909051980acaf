package cloudtrail

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Reason is a stable, machine-readable cause of a rejected record. Its
// values are part of the API: metrics and verdicts carry them verbatim.
type Reason string

// Reasons a record is rejected.
const (
	ReasonNotJSON      Reason = "not_json"       // bytes are not valid JSON
	ReasonNotObject    Reason = "not_object"     // valid JSON, but not an object
	ReasonMissingField Reason = "missing_field"  // a required field is absent, null or ""
	ReasonBadEventTime Reason = "bad_event_time" // eventTime is not RFC 3339
	ReasonTooLarge     Reason = "too_large"      // over Options.MaxRecordSize
	ReasonBadFieldType Reason = "bad_field_type" // a field holds the wrong JSON type
	ReasonAmbiguousKey Reason = "ambiguous_key"  // a key Parse reads appears twice or in another case
)

// RecordError is the error Parse and Reader return for a record that cannot
// be used. Reason is stable and machine-readable; Field names the offending
// field (JSON path such as "userIdentity.arn") when there is one; Detail is
// a complete message a person can act on and is what Error returns.
type RecordError struct {
	Reason Reason
	Field  string
	Detail string
}

// Error returns Detail.
func (e *RecordError) Error() string { return e.Detail }

func recordErr(reason Reason, field, format string, args ...any) *RecordError {
	return &RecordError{Reason: reason, Field: field, Detail: fmt.Sprintf(format, args...)}
}

func errTooLarge(size, limit int) *RecordError {
	return recordErr(ReasonTooLarge, "", "record is %d bytes, over the %d-byte limit", size, limit)
}

// errDuplicate and errVariant are the ambiguous_key errors; field is the
// path of the field the key would set, key the key as the record spells it.
func errDuplicate(field string) *RecordError {
	return recordErr(ReasonAmbiguousKey, field, "record has %s more than once: readers disagree on which one counts", field)
}

func errVariant(field, key string) *RecordError {
	return recordErr(ReasonAmbiguousKey, field, "record has key %s, a variant of %s in case or Unicode folding: "+
		"readers disagree on whether it counts; CloudTrail writes %s exactly", quoteShort(key), field, field)
}

func errMissing(field string) *RecordError {
	return recordErr(ReasonMissingField, field, "record is missing %s", field)
}

// errNotJSON describes a syntax error; base is subtracted from the
// decoder's offset so the offset is relative to the record's first byte.
func errNotJSON(err error, base int64) *RecordError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		msg := strings.TrimPrefix(se.Error(), "json: ")
		return recordErr(ReasonNotJSON, "", "record is not JSON: %s at offset %d", msg, se.Offset-base)
	}
	return recordErr(ReasonNotJSON, "", "record is not JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// errNotObject names the JSON kind found where a record object was expected.
func errNotObject(data []byte) *RecordError {
	return recordErr(ReasonNotObject, "", "record is a JSON %s, not an object", kindOf(firstByte(data)))
}

// errFieldType builds the bad_field_type error for a decoding type mismatch.
func errFieldType(te *json.UnmarshalTypeError) *RecordError {
	kind, _, _ := strings.Cut(te.Value, " ")
	want := "a string"
	if te.Type != nil && te.Type.Kind().String() == "struct" {
		want = "an object"
	}
	return errWrongType(te.Field, kind, want)
}

func errWrongType(field, kind, want string) *RecordError {
	return recordErr(ReasonBadFieldType, field, "%s is a JSON %s, want %s", field, kind, want)
}

// kindOf names the JSON kind a value starting with c has.
func kindOf(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// firstByte returns the first non-space byte of data, or 0.
func firstByte(data []byte) byte {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// quoteShort quotes s for an error message, cutting long values so a hostile
// record cannot make its own rejection message huge.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
