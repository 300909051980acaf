package cloudtrail

import "bytes"

// The caller's block. A record's userIdentity object (its type,
// principal, ARN, access key, the session's issuer and attributes) is a
// third of what the decoder reads, and it is byte for byte the same in
// every record of one session or one access key. So the decoder keeps
// the blocks it met more than once with what they decoded to, and a
// record whose userIdentity bytes are a kept block takes its decoded
// identity in one comparison of those bytes.
//
// Bytes equal to a block the decoder read whole, at the same nesting
// depth, decode to the same identity: decoding reads nothing outside
// the object, and the memos it uses are invisible (decode_memo.go). So
// this, too, changes what a record costs, never what it decodes to.

// identBits sizes the table of kept blocks (80 KiB of slots). On the
// realistic month (145 callers, some 5,800 sessions and keys) 2,048
// slots take 93.5 % of records from a kept block; 512 took 87.5 %,
// 4,096 take 94.2 %: most of the rest are a session's first two records.
const (
	identBits = 11
	identSize = 1 << identBits
	// identLead is how many bytes from the block's '{' choose its slot:
	// enough to reach past a role's principal id into the session name,
	// so the sessions of one role do not share a slot.
	identLead = 96
)

// identTable is the decoder's table of kept blocks.
type identTable [identSize]identEntry

// identEntry is one slot: the hash of the last block met at it, and
// the block it keeps (empty until a block is met twice in a row there).
// Keeping only blocks met twice means a stream of callers that never
// repeat costs no copies.
type identEntry struct {
	seen   uint32
	depth  int32
	anchor uint32 // the decoder's anchor after the block (see predSlot)
	// newline is whether the block holds a newline (see decoder.newline).
	newline bool
	block   string
	id      *rawIdentity
}

// identSlot returns the slot for the block that starts at b[i], or nil
// when fewer than identLead bytes follow or d has no table (see
// withTables).
func (d *decoder) identSlot(i int) *identEntry {
	if len(d.b)-i < identLead || d.idents == nil {
		return nil
	}
	return &d.idents[hashBytes(d.b[i:i+identLead])&(identSize-1)]
}

// userIdentity reads the userIdentity member into r: from the slot's
// kept block when the bytes at d.i are that block, else by decoding it,
// keeping the block when the slot met it last time too. An object reads
// userIdentity once (a second one declines), so r.UserIdentity is still
// zero here, as it was when a kept block was decoded.
func (r *rawRecord) userIdentity(d *decoder) bool {
	start := d.i
	e := d.identSlot(start)
	if e == nil || d.peek() != '{' {
		return r.nested(d, objIdentity)
	}
	if n := len(e.block); n > 0 && int(e.depth) == d.depth && start+n <= len(d.b) && string(d.b[start:start+n]) == e.block {
		r.UserIdentity = *e.id
		d.i, d.more, d.anchor = start+n, true, e.anchor
		d.newline = d.newline || e.newline
		return true
	}
	if !r.nested(d, objIdentity) {
		return false
	}
	block := d.b[start:d.i]
	h := hashBytes(block)
	if h != e.seen {
		e.seen = h
		return true
	}
	id := r.UserIdentity
	e.block, e.depth, e.id, e.anchor = string(block), int32(d.depth), &id, d.anchor
	e.newline = bytes.IndexByte(block, '\n') >= 0
	return true
}
