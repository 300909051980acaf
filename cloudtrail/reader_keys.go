package cloudtrail

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// walkKeys reads an object's keys after its '{' (or after a previous
// stop). It stops, returning true, right after the '[' of a "Records"
// array; otherwise it consumes the object through its '}'.
func (r *Reader) walkKeys() (bool, error) {
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
		if err := r.dec.Decode(&skipValue{}); err != nil {
			return false, err
		}
	}
	_, err := r.dec.Token() // '}'
	return false, err
}

// valueIsArray consumes a value's first token and reports whether it
// opened an array; any other value is consumed whole.
func (r *Reader) valueIsArray() (bool, error) {
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
func (r *Reader) skipNested() error {
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

// skipValue lets the decoder step over a value without building it.
type skipValue struct{}

func (*skipValue) UnmarshalJSON([]byte) error { return nil }

// brokenArray is the fatal error for trouble inside an array or envelope.
func (r *Reader) brokenArray(err error) error {
	if r.tap.err != nil {
		return r.ioErr(err)
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	line := r.tap.line(r.tap.base + int64(len(r.tap.buf)))
	return fmt.Errorf("cloudtrail: broken JSON array after record %d (near line %d): %w", r.index, line, err)
}

// ioErr reports a read failure in preference to what the decoder made of it.
func (r *Reader) ioErr(err error) error {
	if r.tap.err != nil {
		return fmt.Errorf("cloudtrail: reading input: %w", r.tap.err)
	}
	return err
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
