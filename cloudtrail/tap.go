package cloudtrail

import (
	"bufio"
	"bytes"
	"io"
)

// tap sits between the source and the json.Decoder and keeps the bytes the
// decoder has read since the last released offset. encoding/json cannot
// hand back the raw bytes of a value it walked token by token, nor resume
// after a syntax error; the tap gives the Reader both, and line numbers.
// Offsets are absolute positions in the (decompressed) input.
type tap struct {
	src     *bufio.Reader
	pending []byte // bytes to serve before src: the unread rest after a resync
	buf     []byte // bytes read since base
	base    int64  // offset of buf[0]
	lineOff int64  // newlines before lineOff are counted in lines
	lines   int
	err     error // first read error from src other than io.EOF
}

func (t *tap) Read(p []byte) (int, error) {
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

// slice returns the bytes in [from, to); they alias the tap's buffer.
func (t *tap) slice(from, to int64) []byte { return t.buf[from-t.base : to-t.base] }

// skipSpace returns the offset of the first non-space byte at or after off.
func (t *tap) skipSpace(off int64) int64 {
	rest := t.buf[off-t.base:]
	return off + int64(len(rest)-len(bytes.TrimLeft(rest, " \t\r\n")))
}

// line returns the 1-based line number of offset off. Offsets must be
// asked for in non-decreasing order, so each byte is counted once.
func (t *tap) line(off int64) int {
	if off > t.lineOff {
		t.lines += bytes.Count(t.buf[t.lineOff-t.base:off-t.base], []byte{'\n'})
		t.lineOff = off
	}
	return t.lines + 1
}

// release says bytes before off are no longer needed. The buffer is
// compacted only when most of it is dead, so the copying stays amortised.
func (t *tap) release(off int64) {
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
func (t *tap) resync(from int64) int64 {
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
func (t *tap) skipLine() (int64, bool) {
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
