package cloudtrail

import (
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
var gzipPool sync.Pool // of *gzip.Reader

// gunzip returns a decompressor of in, from the pool when one is there.
func (r *Reader) gunzip(in io.Reader) (io.Reader, error) {
	zr, _ := gzipPool.Get().(*gzip.Reader)
	var err error
	if zr != nil {
		err = zr.Reset(in)
	} else {
		zr, err = gzip.NewReader(in)
	}
	if err != nil {
		if zr != nil {
			gzipPool.Put(zr)
		}
		return nil, fmt.Errorf("cloudtrail: reading gzip header: %w", err)
	}
	r.zr = zr
	return zr, nil
}

// releaseGzip gives the decompressor back once the input is done with.
// (It still refers to its last input, head among it, but reads none of it
// again: its next user Resets it first.)
func (r *Reader) releaseGzip() {
	if r.zr == nil {
		return
	}
	gzipPool.Put(r.zr)
	r.zr, r.src = nil, nil
}
