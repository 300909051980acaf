package server

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// DefaultMaxDecompressionRatio bounds how many bytes a gzip request may
// decompress to per byte sent. CloudTrail batches compress 3–20 to 1, the
// same record repeated thousands of times about 170 to 1; deflate can
// reach 1,032 to 1, which is what a request built to cost the server
// memory and CPU uses.
const DefaultMaxDecompressionRatio = 256

// ratioFloor is the output any request may decompress to, whatever its
// ratio: small messages are not worth refusing.
const ratioFloor = 64 << 10

// gzipLimited is the server's gzip decompressor (grpc.RPCDecompressor:
// unlike a registered compressor it is the server's own, so the limits
// apply to no client in the process). It stops reading a request once
// its output is over the transport's receive limit, so gRPC refuses it
// RESOURCE_EXHAUSTED without it ever being larger, and refuses a request
// whose output outgrows ratio times its compressed size.
type gzipLimited struct {
	max   int // the transport's receive limit
	ratio int
	pool  sync.Pool // *gzip.Reader
}

// Type implements grpc.Decompressor.
func (*gzipLimited) Type() string { return "gzip" }

// Do implements grpc.Decompressor. The output is allocated once, at the
// size the gzip trailer gives, capped by the limits (a trailer may lie).
func (d *gzipLimited) Do(r io.Reader) ([]byte, error) {
	in, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	allowed := min(d.max+1, max(ratioFloor, d.ratio*len(in)))
	z, _ := d.pool.Get().(*gzip.Reader)
	if z == nil {
		z, err = gzip.NewReader(bytes.NewReader(in))
	} else {
		err = z.Reset(bytes.NewReader(in))
	}
	if err != nil {
		return nil, err
	}
	defer d.pool.Put(z)
	out := make([]byte, 0, min(allowed, trailerSize(in)+1))
	for {
		if len(out) == cap(out) {
			out = slices.Grow(out, min(allowed, 2*cap(out)+512)-len(out))
		}
		n, err := z.Read(out[len(out):min(cap(out), allowed)])
		out = out[:len(out)+n]
		switch {
		case len(out) > d.max:
			return out, nil // over the receive limit: gRPC refuses it so
		case len(out) >= allowed:
			return nil, fmt.Errorf("request decompresses to more than %d times its size (the server's --max-decompression-ratio)", d.ratio)
		case errors.Is(err, io.EOF):
			return out, nil
		case err != nil:
			return nil, err
		}
	}
}

// trailerSize is the uncompressed size the gzip trailer of b states (of
// its last member, modulo 4 GiB).
func trailerSize(b []byte) int {
	if len(b) < 18 {
		return 0
	}
	return int(binary.LittleEndian.Uint32(b[len(b)-4:]))
}
