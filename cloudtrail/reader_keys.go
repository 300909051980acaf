package cloudtrail

import (
	"bytes"
	"encoding/json"
)

// member reads the next member of a top-level object, or its end. While
// the object may still be a record (inObject) a syntax error makes the
// whole object an item error; in an envelope after its Records array
// (inEnvelope) it is fatal. A "Records" key whose value is an array makes
// the object an envelope: the array is streamed, and what the object held
// before it is dropped.
func (r *Reader) member() (Item, bool, error) {
	b := r.buf
	i, closed, bad := r.entry('}')
	switch {
	case closed:
		return r.endObject(i)
	case bad:
		return r.memberError(i, "after object key:value pair")
	case i == len(b):
		return r.memberError(i, "")
	}
	if b[i] != '"' {
		return r.memberError(i, "looking for beginning of object key string")
	}
	keyEnd, res := scanString(b, i+1, r.eof)
	if res != scanOK {
		return r.valueError(keyEnd, res, i)
	}
	j := skipSpace(b, keyEnd)
	if j < len(b) && b[j] != ':' {
		return r.memberError(j, "after object key")
	}
	if j < len(b) {
		j = skipSpace(b, j+1)
	}
	if j == len(b) {
		return r.memberError(j, "")
	}
	if b[j] == '[' && isRecordsKey(b[i:keyEnd]) {
		r.pos, r.state, r.first, r.index = j+1, inRecords, true, 0
		return Item{}, false, nil
	}
	end, res := scanValue(b, j, r.eof)
	if res != scanOK {
		return r.valueError(end, res, j)
	}
	r.pos, r.first = end, false
	return Item{}, false, nil
}

// entry finds where the next member or element of the open object or
// array begins: past the comma after the one before, or at the first.
// closed says the container's closer is at buf[i] instead; bad, that
// neither a comma nor the closer follows the one before. i is len(buf)
// when the input read so far ends first.
func (r *Reader) entry(closer byte) (i int, closed, bad bool) {
	b := r.buf
	i = skipSpace(b, r.pos)
	switch {
	case i == len(b):
	case b[i] == closer:
		closed = true
	case r.first:
	case b[i] == ',':
		i = skipSpace(b, i+1)
	default:
		bad = true
	}
	return i, closed, bad
}

// endObject ends the top-level object whose '}' is at buf[i]: an
// envelope ends quietly, any other object is a record.
func (r *Reader) endObject(i int) (Item, bool, error) {
	if r.state == inEnvelope {
		r.pos, r.state = i+1, inTop
		return Item{}, false, nil
	}
	// An object walked member by member (one cut by the end of a read,
	// mostly) is parsed now it is whole, where the engine would have.
	r.parseRecord(r.obj)
	return r.topItem(r.obj, i+1), true, nil
}

// memberError is a syntax error at buf[i] between an object's members,
// where context says what was expected; at the end of what is read so
// far it asks for more input instead, unless the input has ended.
func (r *Reader) memberError(i int, context string) (Item, bool, error) {
	if i == len(r.buf) && !r.eof {
		return Item{}, false, r.short(-1)
	}
	if r.state == inEnvelope {
		return Item{}, false, r.brokenArray(i, -1, context)
	}
	return r.topError(r.obj, i), true, nil
}

// valueError is a scan of the value (or key) that began at buf[from]
// ending at buf[at] with res.
func (r *Reader) valueError(at int, res scanResult, from int) (Item, bool, error) {
	switch {
	case res == scanShort:
		return Item{}, false, r.short(from)
	case r.state == inEnvelope:
		return Item{}, false, r.brokenArray(at, from, "")
	}
	return r.topError(r.obj, at), true, nil
}

// isRecordsKey reports whether a quoted key reads "Records", the key of
// an envelope's array (exactly, as encoding/json's tokens compare it).
func isRecordsKey(quoted []byte) bool {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return string(quoted) == `"Records"`
	}
	var key string
	return json.Unmarshal(quoted, &key) == nil && key == "Records"
}

// element reads the next element of the current array, or its end.
func (r *Reader) element() (Item, bool, error) {
	b := r.buf
	i, closed, bad := r.entry(']')
	switch {
	case closed:
		return r.endArray(i)
	case bad:
		return r.arrayError(i, "after array element")
	case i == len(b):
		return r.arrayError(i, "")
	}
	end, ok := 0, false
	if b[i] == '{' {
		end, ok = r.parseRecord(i)
	}
	res := scanOK
	if !ok {
		end, res = scanValue(b, i, r.eof)
	}
	switch res {
	case scanShort:
		return Item{}, false, r.short(i)
	case scanBad:
		return Item{}, false, r.brokenArray(end, i, "")
	}
	r.index++
	item := Item{line: r.line(i), index: r.index}
	if size := end - i; size > r.max {
		item.Err = errTooLarge(size, r.max)
	} else {
		item.Raw = b[i:end:end]
		r.handed = true
	}
	if r.dst == nil || item.Err != nil { // else left to Position (see Item.Pos)
		item.Pos = r.recordPos(item.index, item.line)
	}
	if ok {
		r.passRecord(i, end)
	}
	r.pos, r.first = end, false
	return item, true, nil
}

// endArray ends the array whose ']' is at buf[i].
func (r *Reader) endArray(i int) (Item, bool, error) {
	r.pos, r.first = i+1, false
	if r.state == inRecords {
		r.state = inEnvelope
	} else {
		r.state = inTop
	}
	return Item{}, false, nil
}

// arrayError is a syntax error at buf[i] between an array's elements, or
// a request for more input at the end of what is read so far.
func (r *Reader) arrayError(i int, context string) (Item, bool, error) {
	if i == len(r.buf) && !r.eof {
		return Item{}, false, r.short(-1)
	}
	return Item{}, false, r.brokenArray(i, -1, context)
}

// recordPos is "record I (line N)".
func (r *Reader) recordPos(index, line int) string {
	var buf [64]byte
	return r.posText(appendPos(buf[:0], index, line))
}

// mayHoldRecordsKey reports whether an object might have a key that reads
// "Records": false means it surely has none.
func mayHoldRecordsKey(obj []byte) bool {
	return bytes.Contains(obj, []byte("Records")) || bytes.Contains(obj, []byte(`\u`))
}
