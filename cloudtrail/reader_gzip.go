package cloudtrail

import (
	"bufio"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// Gzip input (CloudTrail's S3 delivery files, one per few minutes or hour
// of a trail) is decompressed with klauspost/compress, the Go field's
// standard gzip: on a realistic month of delivery files it inflates the
// same bytes in about 0.7 of compress/gzip's CPU time, and gives the same
// errors (gzip: invalid header, flate: corrupt input ...).

// gzipPool holds the decompressors of Readers released at their end: a
// decompressor carries a 32 KiB window and its tables, which a scan of
// many small delivery files would otherwise make once per file.
var gzipPool sync.Pool // of *inflater

// inflater is a decompressor and the buffered reader it reads the
// compressed bytes through. Left to itself, gzip reads through a
// bufio.Reader of 4 KiB: a read system call for every 4 KiB of a
// delivery file, some forty records. gzipInBuf makes that one call per
// 64 KiB; the decompressor takes the bufio.Reader as it is (it is a
// flate.Reader), through its specialised path.
type inflater struct {
	zr *gzip.Reader
	br *bufio.Reader
}

// gzipInBuf is the size of the buffer compressed input is read into.
const gzipInBuf = 64 << 10

// gunzip returns a decompressor of in, from the pool when one is there.
func (r *Reader) gunzip(in io.Reader) (io.Reader, error) {
	z, _ := gzipPool.Get().(*inflater)
	var err error
	if z != nil {
		z.br.Reset(in)
		err = z.zr.Reset(z.br)
	} else {
		z = &inflater{br: bufio.NewReaderSize(in, gzipInBuf)}
		z.zr, err = gzip.NewReader(z.br)
	}
	if err != nil {
		if z.zr != nil {
			z.br.Reset(nil)
			gzipPool.Put(z)
		}
		return nil, fmt.Errorf("cloudtrail: reading gzip header: %w", err)
	}
	r.zr = z
	return z.zr, nil
}

// releaseGzip gives the decompressor back once the input is done with.
// (It still refers to its last input, head among it, but reads none of it
// again: its next user Resets it first.)
func (r *Reader) releaseGzip() {
	if r.zr == nil {
		return
	}
	r.zr.br.Reset(nil) // it holds no input of this Reader's
	gzipPool.Put(r.zr)
	r.zr, r.src = nil, nil
}
