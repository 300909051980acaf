package cloudtrail

import "sync"

// The decoders ParseInto and the Readers parse with. A decoder's memos
// (its string cache, its tables of predicted values, identity blocks and
// source addresses: about 270 KiB) pay only once they have seen a caller's
// records, so a decoder is worth keeping for as long as the process
// parses. They used to be held in a sync.Pool, which every garbage
// collection empties: ParseInto's decoders had no tables at all, as one
// made afresh after each collection would cost more to allocate and zero
// than it saved, and a server parsing a few records a request parsed each
// in about 6 µs where the scan, whose Reader holds its decoder through a
// file, takes 1.3. Decoders now go back to a free list that collections
// leave alone, bounded so that a burst of parallel parsing leaves at most
// maxFreeDecoders of them behind.

// maxFreeDecoders bounds the decoders kept between parses: more than the
// engine's batch workers and a scan's reader, on any machine this serves
// on, about 2 MiB in all.
const maxFreeDecoders = 8

var freeDecoders struct {
	sync.Mutex
	list []*decoder
}

// getDecoder returns a decoder with tables, the one given back last when
// there is one (its memos are the warmest).
func getDecoder() *decoder {
	freeDecoders.Lock()
	if n := len(freeDecoders.list); n > 0 {
		d := freeDecoders.list[n-1]
		freeDecoders.list[n-1] = nil
		freeDecoders.list = freeDecoders.list[:n-1]
		freeDecoders.Unlock()
		return d
	}
	freeDecoders.Unlock()
	return new(decoder).withTables()
}

// putDecoder gives d back for another parse, or to the collector when
// maxFreeDecoders are kept already. d must hold no input (release).
func putDecoder(d *decoder) {
	freeDecoders.Lock()
	if len(freeDecoders.list) < maxFreeDecoders {
		freeDecoders.list = append(freeDecoders.list, d)
	}
	freeDecoders.Unlock()
}
