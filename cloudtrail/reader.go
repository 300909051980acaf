package cloudtrail

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unsafe"
)

// Item is one record's place in a container: its raw JSON, not yet
// parsed, and where it was found. Err is set, and Raw is nil, when this
// one item is unusable (a JSON line that is not JSON, a record over the
// size limit) while the rest of the input can still be read.
//
// Raw may share its backing array with other items of the same Reader;
// the Reader never writes to it again, and Raw's capacity ends where it
// does, so appending to it cannot reach another item.
type Item struct {
	Raw []byte
	// Pos is where the item was found: "line 17" for a top-level value,
	// "record 3 (line 40)" inside an array. Next sets it on every item;
	// NextInto and NextIntoBorrowed set it on an item with Err only, and
	// Position gives it for any item.
	Pos string
	Err error // a *RecordError

	// line and index are where the item was found (index 0: a top-level
	// value), for Position; line is 0 in an Item the Reader did not make.
	line, index int
}

// Position is the item's Pos, formatted from its line and index when the
// Reader left Pos unset (NextInto). The scan reads a month's records
// through NextIntoBorrowed and reports none of their positions: writing
// "line N" for each was some 20M instructions of the month's 5.6G, and a
// few kilobytes of positions per batch that nobody read.
func (it Item) Position() string {
	if it.Pos != "" || it.line == 0 {
		return it.Pos
	}
	return string(appendPos(nil, it.index, it.line))
}

// appendPos appends the position of the item at line whose index in its
// array is index (0: a top-level value) to b, as Pos spells it.
func appendPos(b []byte, index, line int) []byte {
	if index == 0 {
		return strconv.AppendInt(append(b, "line "...), int64(line), 10)
	}
	b = strconv.AppendInt(append(b, "record "...), int64(index), 10)
	b = strconv.AppendInt(append(b, " (line "...), int64(line), 10)
	return append(b, ')')
}

// Reader splits a file or stream of CloudTrail into records. It accepts
// gzip (detected by its magic bytes), a single record object, the S3
// delivery envelope {"Records":[...]}, a bare JSON array of records, JSON
// lines, and any sequence of these (concatenated envelopes, as from
// cat'ing several S3 files). A top-level object with a "Records" array is
// an envelope; any other top-level object is a record. An array is one
// level deep: its elements are records. Values that are not objects are
// passed on as items, and Parse rejects them.
//
// Arrays are streamed: the Reader holds one record at a time, never a
// whole envelope. A syntax error at the top level (a broken JSON line)
// becomes an item error and reading resumes at the line after the one
// where the broken value began, so records a broken line swallowed are
// recovered; a syntax error inside an array, or an I/O error, ends the
// stream.
//
// The Reader scans the bytes itself, once: it finds where each record
// ends and checks its syntax on the way (accepting exactly what
// encoding/json accepts), and hands the record's bytes on as they were
// read, without copying them.
type Reader struct {
	in  io.Reader // the input as given
	src io.Reader // what is read: in, or the gzip stream in holds
	max int

	// buf holds the input from offset base on. Bytes before pos are done
	// with, except a top-level object's from obj on while its members are
	// walked. Items alias buf, so bytes once read are never overwritten:
	// new input goes after them, or into a fresh buffer.
	buf    []byte
	chunk  int // size of the last buffer made
	pos    int
	obj    int
	base   int64
	lineAt int64 // newlines before offset lineAt are counted in lines
	lines  int
	// lineText is "line N" for the last line linePos gave, textLine.
	lineText []byte
	textLine int
	eof      bool  // src has ended (with io.EOF or rerr)
	want     byte  // a byte that must arrive before a short step is worth retaking, or 0
	rerr     error // src's error, if it was not io.EOF

	started bool
	state   readerState
	first   bool // nothing read yet in the current object or array
	index   int  // elements returned from the current array
	err     error

	// Buffer reuse (reader_reuse.go): handed is set when an item aliasing
	// buf was returned since the last Release (or the start); retired are
	// replaced buffers items may still alias; mem is the whole of the
	// buffer buf lies in.
	mem     []byte
	zr      *inflater // the decompressor src is, to pool at the end
	head    []byte    // the buffer of gzip's first bytes, to pool at the end
	handed  bool
	retired [][]byte

	posBuf []byte // the block items' positions are written in (see posText)

	// NextInto (reader_parse.go): dst is the Record to parse the next
	// item into, nil under Next; parsed says the item was parsed into it.
	dst    *Record
	parsed bool
	borrow bool     // NextIntoBorrowed: dst may alias the item (see lendRaw)
	dec    *decoder // the parser NextInto walks records with, from the free list (getDecoder)
}

type readerState int8

const (
	inTop      readerState = iota // between top-level values
	inObject                      // in a top-level object: a record, or an envelope until Records is met
	inArray                       // inside a bare top-level array
	inRecords                     // inside an envelope's Records array
	inEnvelope                    // after Records, inside the envelope object
)

// Reading sizes: input is read into buffers of up to chunkSize bytes
// (larger when one value is larger), and a fresh one is started when
// fewer than minRead bytes are free at the end of the current one.
const (
	chunkSize = 256 << 10
	minRead   = 8 << 10
)

// errShort is a step's word that it needs more input.
var errShort = errors.New("cloudtrail: need more input")

// NewReader returns a Reader over r. Items larger than opts.MaxRecordSize
// are returned with a too_large error instead of their bytes.
func NewReader(r io.Reader, opts Options) *Reader {
	return &Reader{in: r, src: r, max: opts.maxSize()}
}

// Next returns the next item. At the end of the input it returns io.EOF;
// any other error is fatal (I/O, gzip, or a container broken mid-array)
// and every later call returns it again.
func (r *Reader) Next() (Item, error) {
	if r.err != nil {
		return Item{}, r.err
	}
	if !r.started {
		r.started = true
		if err := r.init(); err != nil {
			r.err = err
			return Item{}, err
		}
	}
	for {
		item, ok, err := r.step()
		switch {
		case err == errShort:
			if !r.more() && r.rerr != nil {
				err = r.ioErr()
				break
			}
			continue
		case err == io.EOF && r.rerr != nil:
			err = r.ioErr()
		}
		if err != nil {
			r.err = err
			return Item{}, err
		}
		if ok {
			return item, nil
		}
	}
}

// init reads the first bytes and, when they are gzip's magic, reads the
// rest through gunzip.
func (r *Reader) init() error {
	for len(r.buf) < 2 && r.fill() {
	}
	if !bytes.HasPrefix(r.buf, []byte{0x1f, 0x8b}) {
		return nil
	}
	head := r.buf
	zr, err := r.gunzip(io.MultiReader(bytes.NewReader(head), r.in))
	if err != nil {
		return err
	}
	// head stays gzip's input, so its buffer is not read into again
	// before the end (see Release).
	r.src, r.buf, r.mem, r.head, r.eof, r.rerr = zr, nil, nil, r.mem, false, nil
	return nil
}

// fill reads more input after what buf holds, dropping the bytes no step
// needs any more; it reports whether it read anything.
func (r *Reader) fill() bool {
	if r.eof {
		return false
	}
	keep := r.pos
	if r.state == inObject {
		keep = r.obj
	}
	r.line(keep) // count the newlines of what is dropped
	r.buf = r.buf[keep:]
	r.base += int64(keep)
	r.pos -= keep
	r.obj -= keep
	if cap(r.buf)-len(r.buf) < minRead {
		// Buffers start small, so a short input (a request body, a
		// shipper's chunk) costs little, and double up to chunkSize.
		r.chunk = min(chunkSize, max(2*minRead, 2*r.chunk))
		r.grow(max(r.chunk, 2*len(r.buf)))
	}
	for range 100 {
		n, err := r.src.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+n]
		if err != nil {
			r.eof = true
			if err != io.EOF {
				r.rerr = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	r.eof, r.rerr = true, io.ErrNoProgress
	return false
}

// more reads input for a step that ran out of it, and reports whether it
// read any. When the step was scanning a value whose end is a byte it
// names (want), it reads on until that byte arrives, or the input ends,
// before the step scans the value again: a value trickling in a few bytes
// a read then costs a scan per closing bracket or quote, not per read.
func (r *Reader) more() bool {
	read := false
	for {
		seen := r.base + int64(len(r.buf)) // offsets of new bytes start here
		if !r.fill() {
			return read
		}
		read = true
		if r.want == 0 || bytes.IndexByte(r.buf[seen-r.base:], r.want) >= 0 {
			return true
		}
	}
}

// short is a step's request for more input to finish the value (or key)
// that begins at buf[start]; start < 0 when no value was begun.
func (r *Reader) short(start int) error {
	r.want = 0
	if start >= 0 {
		switch r.buf[start] {
		case '{':
			r.want = '}'
		case '[':
			r.want = ']'
		case '"':
			r.want = '"'
		}
	}
	return errShort
}

// ioErr is the fatal error of a failed read.
func (r *Reader) ioErr() error {
	return fmt.Errorf("cloudtrail: reading input: %w", r.rerr)
}

// line returns the 1-based line number of buf[i]. It must be asked in
// non-decreasing order of offsets, so each byte is counted once.
func (r *Reader) line(i int) int {
	if off := r.base + int64(i); off > r.lineAt {
		r.lines += bytes.Count(r.buf[r.lineAt-r.base:i], []byte{'\n'})
		r.lineAt = off
	}
	return r.lines + 1
}

// step moves past one thing: a value, an array element, an object member,
// or a bracket. ok is true when it produced an item; errShort asks for
// more input, after which the step is taken again from where it began.
func (r *Reader) step() (Item, bool, error) {
	switch r.state {
	case inObject, inEnvelope:
		return r.member()
	case inArray, inRecords:
		return r.element()
	}
	return r.top()
}

// top reads the next top-level value.
func (r *Reader) top() (Item, bool, error) {
	b := r.buf
	i := skipSpace(b, r.pos)
	r.pos = i
	if i == len(b) {
		if !r.eof {
			return Item{}, false, r.short(-1)
		}
		return Item{}, false, io.EOF
	}
	switch b[i] {
	case '[':
		r.pos, r.state, r.first, r.index = i+1, inArray, true, 0
		return Item{}, false, nil
	case '{':
		if end, ok := r.parseRecord(i); ok {
			item := r.topItem(i, end)
			r.passRecord(i, end)
			return item, true, nil
		}
		// Most objects are records read whole: one scan finds the end,
		// and one search shows no key can read "Records" (such a key
		// spells it out or escapes a letter with \u). Others, and
		// objects that go on past what is read, are walked member by
		// member, so an envelope streams.
		if end, res := scanValue(b, i, r.eof); res == scanOK && !mayHoldRecordsKey(b[i:end]) {
			return r.topItem(i, end), true, nil
		}
		r.obj, r.pos, r.state, r.first = i, i+1, inObject, true
		return Item{}, false, nil
	}
	end, res := scanValue(b, i, r.eof)
	switch res {
	case scanShort:
		return Item{}, false, r.short(i)
	case scanBad:
		return r.topError(i, end), true, nil
	}
	if c := b[i]; c == '-' || isDigit(c) {
		// encoding/json reads a top-level number as a float64 and fails
		// on one out of its range.
		if err := json.Unmarshal(b[i:end], new(any)); err != nil {
			line := r.line(i)
			item := Item{Pos: r.linePos(line), Err: errNotJSON(err, 0), line: line}
			r.resync(i)
			return item, true, nil
		}
	}
	return r.topItem(i, end), true, nil
}

// topItem returns the top-level value in buf[from:end]. Its Pos is
// left to Position under NextInto (see Item.Pos).
func (r *Reader) topItem(from, end int) Item {
	item := Item{line: r.line(from)}
	if size := end - from; size > r.max {
		item.Err = errTooLarge(size, r.max)
		item.Pos = r.linePos(item.line)
	} else {
		if r.dst == nil {
			item.Pos = r.linePos(item.line)
		}
		item.Raw = r.buf[from:end:end]
		r.handed = true
	}
	r.pos, r.state = end, inTop
	return item
}

// topError turns a syntax error at buf[bad] in the top-level value that
// began at buf[from] into an item error, and resumes at the line after
// the one where the value began.
func (r *Reader) topError(from, bad int) Item {
	line := r.line(from)
	item := Item{Pos: r.linePos(line), Err: errNotJSON(r.syntaxErr(from, bad), 0), line: line}
	r.resync(from)
	return item
}

// syntaxErr is encoding/json's account of the syntax error at buf[bad]
// in the value that began at buf[from]: it runs on the error path only,
// so messages read as they always have.
func (r *Reader) syntaxErr(from, bad int) error {
	if bad >= len(r.buf) {
		return io.ErrUnexpectedEOF
	}
	dec := json.NewDecoder(bytes.NewReader(r.buf[from : bad+1]))
	if err := dec.Decode(new(skipValue)); err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return err
	}
	return fmt.Errorf("invalid character %s at offset %d", quoteChar(r.buf[bad]), bad-from+1)
}

// skipValue lets a json.Decoder check a value without building it.
type skipValue struct{}

func (*skipValue) UnmarshalJSON([]byte) error { return nil }

// resync drops the input through the first newline at or after buf[from],
// whether already read or not, and goes on at the top level after it.
func (r *Reader) resync(from int) {
	r.state = inTop
	if i := bytes.IndexByte(r.buf[from:], '\n'); i >= 0 {
		r.pos = from + i + 1
		return
	}
	for {
		r.pos = len(r.buf) // all of it is dropped at the next fill
		if !r.fill() {
			return
		}
		if i := bytes.IndexByte(r.buf[r.pos:], '\n'); i >= 0 {
			r.pos += i + 1
			return
		}
	}
}

// brokenArray is the fatal error for a syntax error at buf[bad] inside an
// array or envelope: in the element that began at buf[elem] when elem is
// not negative, else between elements or members, where context says
// what was expected.
func (r *Reader) brokenArray(bad, elem int, context string) error {
	var err error
	switch {
	case bad >= len(r.buf):
		err = io.ErrUnexpectedEOF
	case elem >= 0:
		err = r.syntaxErr(elem, bad)
	default:
		err = fmt.Errorf("invalid character %s %s", quoteChar(r.buf[bad]), context)
	}
	return fmt.Errorf("cloudtrail: broken JSON array after record %d (near line %d): %w", r.index, r.line(min(bad, len(r.buf))), err)
}

// quoteChar quotes a byte as encoding/json's syntax errors do.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

// linePos is "line N". JSON lines ask for one line after another, so
// the Reader keeps the last line's text and counts it up by one rather
// than format each number anew: strconv was a seventieth of the
// Reader's instructions a record.
func (r *Reader) linePos(line int) string {
	const prefix = len("line ")
	if r.lineText == nil {
		r.lineText = append(make([]byte, 0, 32), "line 0"...)
	}
	if line != r.textLine+1 || !countUp(r.lineText[prefix:]) {
		r.lineText = strconv.AppendInt(r.lineText[:prefix], int64(line), 10)
	}
	r.textLine = line
	return r.posText(r.lineText)
}

// countUp adds one to the decimal number in digits, in place, unless
// that takes one more digit (it then reports false).
func countUp(digits []byte) bool {
	for i := len(digits) - 1; i >= 0; i-- {
		if digits[i] != '9' {
			digits[i]++
			return true
		}
		digits[i] = '0'
	}
	return false
}

// posBlock is the size of the blocks items' positions are written in.
const posBlock = 4 << 10

// posText returns b as a string written into the Reader's current block
// of positions, so an item's Pos costs no allocation of its own (one
// block serves a few hundred items). Bytes once given out are never
// written again: a string over them is as immutable as any. A Pos a
// caller keeps keeps its block, 4 KiB at most, alive.
func (r *Reader) posText(b []byte) string {
	if len(r.posBuf)+len(b) > cap(r.posBuf) {
		r.posBuf = make([]byte, 0, max(posBlock, len(b)))
	}
	start := len(r.posBuf)
	r.posBuf = append(r.posBuf, b...)
	return unsafe.String(&r.posBuf[start], len(b))
}

// ReadAll reads every item from r. It returns the items read so far and
// the fatal error, if any; io.EOF is not an error.
func ReadAll(r io.Reader, opts Options) ([]Item, error) {
	var items []Item
	rd := NewReader(r, opts)
	for {
		item, err := rd.Next()
		if err == io.EOF {
			return items, nil
		}
		if err != nil {
			return items, err
		}
		items = append(items, item)
	}
}

// SplitBytes splits data, in any container the Reader accepts, into items.
// It suits a request body that may itself be an envelope or JSON lines.
func SplitBytes(data []byte, opts Options) ([]Item, error) {
	return ReadAll(bytes.NewReader(data), opts)
}
