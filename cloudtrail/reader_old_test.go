package cloudtrail

// The Reader before it scanned bytes itself: a json.Decoder walking tokens
// over a tap. It is kept, unchanged but for its names, as the oracle the
// byte scanner's record boundaries, positions and errors are checked
// against (reader_oracle_test.go).

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
)

// oldReader splits a file or stream of CloudTrail into records. It accepts
// gzip (detected by its magic bytes), a single record object, the S3
// delivery envelope {"Records":[...]}, a bare JSON array of records, JSON
// lines, and any sequence of these (concatenated envelopes, as from
// cat'ing several S3 files). A top-level object with a "Records" array is
// an envelope; any other top-level object is a record. An array is one
// level deep: its elements are records. Values that are not objects are
// passed on as items, and Parse rejects them.
//
// Arrays are streamed: the oldReader holds one record at a time, never a
// whole envelope. A syntax error at the top level (a broken JSON line)
// becomes an item error and reading resumes at the line after the one
// where the broken value began, so records a broken line swallowed are
// recovered; a syntax error inside an array, or an I/O error, ends the
// stream.
type oldReader struct {
	src     io.Reader
	max     int
	oldTap  *oldTap
	dec     *json.Decoder
	decBase int64 // offset where dec started reading
	state   oldState
	index   int // elements returned from the current array
	err     error
}

type oldState int8

const (
	oldInTop      oldState = iota // between top-level values
	oldInArray                    // inside a bare top-level array
	oldInRecords                  // inside an envelope's Records array
	oldInEnvelope                 // after Records, inside the envelope object
)

// newOldReader returns a oldReader over r. Items larger than opts.MaxRecordSize
// are returned with a too_large error instead of their bytes.
func newOldReader(r io.Reader, opts Options) *oldReader {
	return &oldReader{src: r, max: opts.maxSize()}
}

// Next returns the next item. At the end of the input it returns io.EOF;
// any other error is fatal (I/O, gzip, or a container broken mid-array)
// and every later call returns it again.
func (r *oldReader) Next() (Item, error) {
	if r.err != nil {
		return Item{}, r.err
	}
	if r.dec == nil {
		if err := r.init(); err != nil {
			r.err = err
			return Item{}, err
		}
	}
	for {
		item, ok, err := r.step()
		if err != nil {
			r.err = err
			return Item{}, err
		}
		if ok {
			return item, nil
		}
	}
}

func (r *oldReader) init() error {
	br := bufio.NewReaderSize(r.src, 64<<10)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("cloudtrail: reading gzip header: %w", err)
		}
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	r.oldTap = &oldTap{src: br}
	r.dec = json.NewDecoder(r.oldTap)
	return nil
}

// off is the absolute offset of the decoder's position.
func (r *oldReader) off() int64 { return r.decBase + r.dec.InputOffset() }

// step advances one token or value; ok is false when it moved without
// producing an item (entering or leaving an array).
func (r *oldReader) step() (Item, bool, error) {
	switch r.state {
	case oldInArray, oldInRecords:
		return r.element()
	case oldInEnvelope:
		return Item{}, false, r.envelopeRest()
	}
	return r.top()
}

func (r *oldReader) top() (Item, bool, error) {
	start := r.off()
	tok, err := r.dec.Token()
	switch {
	case err == io.EOF:
		return Item{}, false, r.ioErr(io.EOF)
	case err != nil:
		return r.topError(start, err)
	case tok == json.Delim('['):
		r.state, r.index = oldInArray, 0
		return Item{}, false, nil
	case tok == json.Delim('{'):
		return r.object(start)
	}
	return r.topItem(start), true, nil
}

// object walks a top-level object's keys to learn whether it is an
// envelope; if not, the object itself is the item.
func (r *oldReader) object(start int64) (Item, bool, error) {
	envelope, err := r.walkKeys()
	if err != nil {
		return r.topError(start, err)
	}
	if envelope {
		r.state, r.index = oldInRecords, 0
		return Item{}, false, nil
	}
	return r.topItem(start), true, nil
}

// topItem returns the top-level value that began at or after start and
// ended at the decoder's position.
func (r *oldReader) topItem(start int64) Item {
	end := r.off()
	from := r.oldTap.skipSpace(start)
	item := Item{Pos: fmt.Sprintf("line %d", r.oldTap.line(from))}
	if size := int(end - from); size > r.max {
		item.Err = errTooLarge(size, r.max)
	} else {
		item.Raw = bytes.Clone(r.oldTap.slice(from, end))
	}
	r.oldTap.release(end)
	return item
}

// topError turns a top-level syntax error into an item error and resumes
// at the next line, unless the input itself failed.
func (r *oldReader) topError(start int64, err error) (Item, bool, error) {
	if r.oldTap.err != nil {
		return Item{}, false, r.ioErr(err)
	}
	from := r.oldTap.skipSpace(start)
	item := Item{Pos: fmt.Sprintf("line %d", r.oldTap.line(from)), Err: errNotJSON(err, from-r.decBase)}
	r.decBase = r.oldTap.resync(from)
	r.dec = json.NewDecoder(r.oldTap)
	r.state = oldInTop
	return item, true, nil
}

// element returns the next element of the current array.
func (r *oldReader) element() (Item, bool, error) {
	if !r.dec.More() {
		if _, err := r.dec.Token(); err != nil {
			return Item{}, false, r.brokenArray(err)
		}
		next := oldInTop
		if r.state == oldInRecords {
			next = oldInEnvelope
		}
		r.state = next
		return Item{}, false, nil
	}
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		return Item{}, false, r.brokenArray(err)
	}
	r.index++
	end := r.off()
	item := Item{Pos: fmt.Sprintf("record %d (line %d)", r.index, r.oldTap.line(end-int64(len(raw))))}
	r.oldTap.release(end)
	if len(raw) > r.max {
		item.Err = errTooLarge(len(raw), r.max)
	} else {
		item.Raw = raw
	}
	return item, true, nil
}

// envelopeRest reads the envelope's keys after its Records array.
func (r *oldReader) envelopeRest() error {
	envelope, err := r.walkKeys()
	if err != nil {
		return r.brokenArray(err)
	}
	r.state, r.index = oldInTop, 0
	if envelope {
		r.state = oldInRecords // a second Records array: stream it too
	}
	return nil
}

// walkKeys reads an object's keys after its '{' (or after a previous
// stop). It stops, returning true, right after the '[' of a "Records"
// array; otherwise it consumes the object through its '}'.
func (r *oldReader) walkKeys() (bool, error) {
	for r.dec.More() {
		tok, err := r.dec.Token()
		if err != nil {
			return false, err
		}
		if tok == "Records" {
			isArray, err := r.valueIsArray()
			if err != nil || isArray {
				return isArray, err
			}
			continue
		}
		if err := r.dec.Decode(&oldSkipValue{}); err != nil {
			return false, err
		}
	}
	_, err := r.dec.Token() // '}'
	return false, err
}

// valueIsArray consumes a value's first token and reports whether it
// opened an array; any other value is consumed whole.
func (r *oldReader) valueIsArray() (bool, error) {
	tok, err := r.dec.Token()
	switch {
	case err != nil:
		return false, err
	case tok == json.Delim('['):
		return true, nil
	case tok == json.Delim('{'):
		return false, r.skipNested()
	}
	return false, nil
}

// skipNested consumes tokens until the object just opened is closed.
func (r *oldReader) skipNested() error {
	for depth := 1; depth > 0; {
		tok, err := r.dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// oldSkipValue lets the decoder step over a value without building it.
type oldSkipValue struct{}

func (*oldSkipValue) UnmarshalJSON([]byte) error { return nil }

// brokenArray is the fatal error for trouble inside an array or envelope.
func (r *oldReader) brokenArray(err error) error {
	if r.oldTap.err != nil {
		return r.ioErr(err)
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	line := r.oldTap.line(r.oldTap.base + int64(len(r.oldTap.buf)))
	return fmt.Errorf("cloudtrail: broken JSON array after record %d (near line %d): %w", r.index, line, err)
}

// ioErr reports a read failure in preference to what the decoder made of it.
func (r *oldReader) ioErr(err error) error {
	if r.oldTap.err != nil {
		return fmt.Errorf("cloudtrail: reading input: %w", r.oldTap.err)
	}
	return err
}

// oldTap sits between the source and the json.Decoder and keeps the bytes the
// decoder has read since the last released offset. encoding/json cannot
// hand back the raw bytes of a value it walked token by token, nor resume
// after a syntax error; the oldTap gives the Reader both, and line numbers.
// Offsets are absolute positions in the (decompressed) input.
type oldTap struct {
	src     *bufio.Reader
	pending []byte // bytes to serve before src: the unread rest after a resync
	buf     []byte // bytes read since base
	base    int64  // offset of buf[0]
	lineOff int64  // newlines before lineOff are counted in lines
	lines   int
	err     error // first read error from src other than io.EOF
}

func (t *oldTap) Read(p []byte) (int, error) {
	var n int
	var err error
	if len(t.pending) > 0 {
		n = copy(p, t.pending)
		t.pending = t.pending[n:]
	} else {
		n, err = t.src.Read(p)
		if err != nil && err != io.EOF && t.err == nil {
			t.err = err
		}
	}
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

// slice returns the bytes in [from, to); they alias the oldTap's buffer.
func (t *oldTap) slice(from, to int64) []byte { return t.buf[from-t.base : to-t.base] }

// skipSpace returns the offset of the first non-space byte at or after off.
func (t *oldTap) skipSpace(off int64) int64 {
	rest := t.buf[off-t.base:]
	return off + int64(len(rest)-len(bytes.TrimLeft(rest, " \t\r\n")))
}

// line returns the 1-based line number of offset off. Offsets must be
// asked for in non-decreasing order, so each byte is counted once.
func (t *oldTap) line(off int64) int {
	if off > t.lineOff {
		t.lines += bytes.Count(t.buf[t.lineOff-t.base:off-t.base], []byte{'\n'})
		t.lineOff = off
	}
	return t.lines + 1
}

// release says bytes before off are no longer needed. The buffer is
// compacted only when most of it is dead, so the copying stays amortised.
func (t *oldTap) release(off int64) {
	t.line(off)
	if k := off - t.base; k > int64(len(t.buf)/2) {
		n := copy(t.buf, t.buf[k:])
		t.buf = t.buf[:n]
		t.base = off
	}
}

// resync drops everything up to and including the first newline at or
// after from, whether already read or still in the source, and returns the
// offset of the next line, where a fresh decoder starts reading.
func (t *oldTap) resync(from int64) int64 {
	if i := bytes.IndexByte(t.buf[from-t.base:], '\n'); i >= 0 {
		next := from + int64(i) + 1
		t.line(next)
		t.pending = append(append([]byte(nil), t.buf[next-t.base:]...), t.pending...)
		t.buf, t.base = t.buf[:0], next
		return next
	}
	end := t.base + int64(len(t.buf))
	t.line(end)
	n, found := t.skipLine()
	t.buf, t.base, t.lineOff = t.buf[:0], end+n, end+n
	if found {
		t.lines++
	}
	return t.base
}

// skipLine discards unread input through the next newline, returning how
// many bytes it dropped and whether it found one.
func (t *oldTap) skipLine() (int64, bool) {
	if i := bytes.IndexByte(t.pending, '\n'); i >= 0 {
		t.pending = t.pending[i+1:]
		return int64(i) + 1, true
	}
	n := int64(len(t.pending))
	t.pending = nil
	for {
		chunk, err := t.src.ReadSlice('\n')
		n += int64(len(chunk))
		switch {
		case err == nil:
			return n, true
		case err == bufio.ErrBufferFull:
			continue
		case err != io.EOF && t.err == nil:
			t.err = err
		}
		return n, false
	}
}
