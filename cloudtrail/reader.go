package cloudtrail

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
)

// Item is one record's place in a container: its raw JSON, not yet
// parsed, and where it was found. Err is set, and Raw is nil, when this
// one item is unusable (a JSON line that is not JSON, a record over the
// size limit) while the rest of the input can still be read.
type Item struct {
	Raw []byte
	Pos string // "line 17" for a top-level value, "record 3 (line 40)" inside an array
	Err error  // a *RecordError
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
type Reader struct {
	src     io.Reader
	max     int
	tap     *tap
	dec     *json.Decoder
	decBase int64 // offset where dec started reading
	state   readerState
	index   int // elements returned from the current array
	err     error
}

type readerState int8

const (
	inTop      readerState = iota // between top-level values
	inArray                       // inside a bare top-level array
	inRecords                     // inside an envelope's Records array
	inEnvelope                    // after Records, inside the envelope object
)

// NewReader returns a Reader over r. Items larger than opts.MaxRecordSize
// are returned with a too_large error instead of their bytes.
func NewReader(r io.Reader, opts Options) *Reader {
	return &Reader{src: r, max: opts.maxSize()}
}

// Next returns the next item. At the end of the input it returns io.EOF;
// any other error is fatal (I/O, gzip, or a container broken mid-array)
// and every later call returns it again.
func (r *Reader) Next() (Item, error) {
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

func (r *Reader) init() error {
	br := bufio.NewReaderSize(r.src, 64<<10)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("cloudtrail: reading gzip header: %w", err)
		}
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	r.tap = &tap{src: br}
	r.dec = json.NewDecoder(r.tap)
	return nil
}

// off is the absolute offset of the decoder's position.
func (r *Reader) off() int64 { return r.decBase + r.dec.InputOffset() }

// step advances one token or value; ok is false when it moved without
// producing an item (entering or leaving an array).
func (r *Reader) step() (Item, bool, error) {
	switch r.state {
	case inArray, inRecords:
		return r.element()
	case inEnvelope:
		return Item{}, false, r.envelopeRest()
	}
	return r.top()
}

func (r *Reader) top() (Item, bool, error) {
	start := r.off()
	tok, err := r.dec.Token()
	switch {
	case err == io.EOF:
		return Item{}, false, r.ioErr(io.EOF)
	case err != nil:
		return r.topError(start, err)
	case tok == json.Delim('['):
		r.state, r.index = inArray, 0
		return Item{}, false, nil
	case tok == json.Delim('{'):
		return r.object(start)
	}
	return r.topItem(start), true, nil
}

// object walks a top-level object's keys to learn whether it is an
// envelope; if not, the object itself is the item.
func (r *Reader) object(start int64) (Item, bool, error) {
	envelope, err := r.walkKeys()
	if err != nil {
		return r.topError(start, err)
	}
	if envelope {
		r.state, r.index = inRecords, 0
		return Item{}, false, nil
	}
	return r.topItem(start), true, nil
}

// topItem returns the top-level value that began at or after start and
// ended at the decoder's position.
func (r *Reader) topItem(start int64) Item {
	end := r.off()
	from := r.tap.skipSpace(start)
	item := Item{Pos: fmt.Sprintf("line %d", r.tap.line(from))}
	if size := int(end - from); size > r.max {
		item.Err = errTooLarge(size, r.max)
	} else {
		item.Raw = bytes.Clone(r.tap.slice(from, end))
	}
	r.tap.release(end)
	return item
}

// topError turns a top-level syntax error into an item error and resumes
// at the next line, unless the input itself failed.
func (r *Reader) topError(start int64, err error) (Item, bool, error) {
	if r.tap.err != nil {
		return Item{}, false, r.ioErr(err)
	}
	from := r.tap.skipSpace(start)
	item := Item{Pos: fmt.Sprintf("line %d", r.tap.line(from)), Err: errNotJSON(err, from-r.decBase)}
	r.decBase = r.tap.resync(from)
	r.dec = json.NewDecoder(r.tap)
	r.state = inTop
	return item, true, nil
}

// element returns the next element of the current array.
func (r *Reader) element() (Item, bool, error) {
	if !r.dec.More() {
		if _, err := r.dec.Token(); err != nil {
			return Item{}, false, r.brokenArray(err)
		}
		next := inTop
		if r.state == inRecords {
			next = inEnvelope
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
	item := Item{Pos: fmt.Sprintf("record %d (line %d)", r.index, r.tap.line(end-int64(len(raw))))}
	r.tap.release(end)
	if len(raw) > r.max {
		item.Err = errTooLarge(len(raw), r.max)
	} else {
		item.Raw = raw
	}
	return item, true, nil
}

// envelopeRest reads the envelope's keys after its Records array.
func (r *Reader) envelopeRest() error {
	envelope, err := r.walkKeys()
	if err != nil {
		return r.brokenArray(err)
	}
	r.state, r.index = inTop, 0
	if envelope {
		r.state = inRecords // a second Records array: stream it too
	}
	return nil
}
