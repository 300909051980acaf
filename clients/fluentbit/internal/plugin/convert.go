package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

// lineKeys are where a record sits when Fluent Bit read it as a line
// without parsing it: in_tail's "log", most other inputs' "message".
var lineKeys = []string{"log", "message"}

// Records turns one event body into CloudTrail records, as JSON:
//
//   - a body holding a "Records" array is an S3 delivery envelope (a
//     parser that read a whole CloudTrail file): each element is a record;
//   - a body that looks like a record (eventID, eventVersion or eventName)
//     is the record;
//   - otherwise a string under "log" or "message" holds JSON text — a record,
//     an envelope, an array or JSON lines — split as iamsentry scan does; a
//     line that is not JSON is sent as its raw bytes;
//   - any other body is sent as it is.
//
// What is not a record is sent all the same, for the server to judge: it
// answers INVALID with a reason code and counts it
// (iamsentry_records_invalid_total), where a line dropped here would be
// seen only in Fluent Bit's log. problems lists what could not be sent at
// all: a line over the record size limit, the rest of a file that broke
// off mid-array.
func Records(body map[interface{}]interface{}) (records [][]byte, problems []error) {
	m, ok := plain(body).(map[string]interface{})
	if !ok {
		return nil, []error{errors.New("body is not a map")}
	}
	if recs, ok := m["Records"].([]interface{}); ok {
		for i, r := range recs {
			b, err := json.Marshal(r)
			if err != nil {
				problems = append(problems, fmt.Errorf("Records[%d]: %w", i, err))
				continue
			}
			records = append(records, b)
		}
		return records, problems
	}
	if !looksLikeRecord(m) {
		for _, k := range lineKeys {
			if s, ok := m[k].(string); ok {
				return split([]byte(s))
			}
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, []error{err}
	}
	return [][]byte{b}, nil
}

func looksLikeRecord(m map[string]interface{}) bool {
	for _, k := range []string{"eventID", "eventVersion", "eventName"} {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// split reads JSON text with the CloudTrail reader (envelopes, arrays, JSON
// lines, gzip even), so a line shipped raw is treated as scan treats files.
// A line that is not JSON becomes a record of its raw bytes, and so does
// text the reader cannot start on (garbage that looks like gzip, an array
// broken before its first record).
func split(text []byte) (records [][]byte, problems []error) {
	rd := cloudtrail.NewReader(bytes.NewReader(text), cloudtrail.Options{})
	for {
		item, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return records, problems
		}
		if err != nil {
			if len(records) == 0 && len(problems) == 0 && len(text) <= maxRaw {
				return [][]byte{text}, nil
			}
			return records, append(problems, err)
		}
		if item.Err != nil {
			if raw := brokenLine(text, item); raw != nil {
				records = append(records, raw)
				continue
			}
			problems = append(problems, fmt.Errorf("%s: %w", item.Pos, item.Err))
			continue
		}
		records = append(records, item.Raw)
	}
}

// maxRaw is the largest unparseable text sent as a record: the server's
// default --max-record-size, which the reader also applies to records.
const maxRaw = cloudtrail.DefaultMaxRecordSize

// brokenLine returns the line of text where the reader found a top-level
// value that is not JSON, or nil for any other item error.
func brokenLine(text []byte, item cloudtrail.Item) []byte {
	var re *cloudtrail.RecordError
	if !errors.As(item.Err, &re) || re.Reason != cloudtrail.ReasonNotJSON {
		return nil
	}
	var n int
	if _, err := fmt.Sscanf(item.Pos, "line %d", &n); err != nil {
		return nil
	}
	for line := range bytes.Lines(text) {
		if n--; n == 0 {
			if line = bytes.TrimSpace(line); len(line) > 0 && len(line) <= maxRaw {
				return line
			}
			return nil
		}
	}
	return nil
}

// plain turns msgpack-decoded values into what encoding/json renders as
// the original JSON: []byte strings become strings, interface-keyed maps
// become string-keyed maps, recursively.
func plain(v interface{}) interface{} {
	switch t := v.(type) {
	case []byte:
		return string(t)
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, val := range t {
			m[keyString(k)] = plain(val)
		}
		return m
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, val := range t {
			m[k] = plain(val)
		}
		return m
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, val := range t {
			out[i] = plain(val)
		}
		return out
	}
	return v
}

func keyString(k interface{}) string {
	switch t := k.(type) {
	case string:
		return t
	case []byte:
		return string(t)
	}
	return fmt.Sprint(k)
}
