package cloudtrail

import "unsafe"

// Memos of earlier records' tokens. A month of CloudTrail repeats
// itself: the records of one source write the same keys in the same
// order, and most values of a record (the ARN, account and access key of
// its caller, the session's issuer, the region, source address and user
// agent) are the ones the same caller's last record had. Each such token
// used to cost the scan that finds its closing quote, a hash of its
// bytes and a comparison with the string cache's entry, or with the
// field's key: three passes over its bytes. The decoder now first asks
// whether the bytes at hand are the token it met in the same place last
// time (a key), or last time it read this field for this caller (a
// value), followed by its closing quote; that one comparison settles it.
//
// A memo holds only strings of plain ASCII (no quote, backslash,
// control character or byte of 0x80 and above), so bytes equal to one
// and then a quote are a string token whose value is exactly the memo:
// the scan would have stopped at that quote, and it decodes to the same
// bytes. So a memo changes what a record costs, never what it decodes to.

// maxMemoKeys bounds the member positions of one object whose keys are
// remembered; CloudTrail records have about 20 members at the top.
const maxMemoKeys = 32

// maxMemoKey bounds the length of a remembered key with its closing
// quote and colon; CloudTrail's longest is sessionCredentialFromConsole,
// 28 bytes.
const maxMemoKey = 32

// keyMemo is the key last met at one member position of one kind of
// object, and the field it matched (noField for a key Parse skips). A
// key that matched a field but for its case is never remembered: the
// fast path declines it. The key is held in the memo itself, so
// remembering one costs no allocation, with the '":' that ended it:
// only keys written with the colon straight after them are remembered,
// as CloudTrail writes them, and a hit then steps over the colon too.
type keyMemo struct {
	key [maxMemoKey]byte // the name, '"' and ':'
	n   int8             // the length of key; 0 when nothing is remembered
	f   field
}

// memoAt reports whether b[i:] starts with the plain ASCII string s (not
// empty) and then a closing quote; end is the index past that quote.
func memoAt(b []byte, i int, s string) (end int, ok bool) {
	e := i + len(s)
	if len(s) == 0 || e >= len(b) || b[e] != '"' || string(b[i:e]) != s {
		return 0, false
	}
	return e + 1, true
}

// memoKey returns the field of the key at b[i] (its opening quote) when
// it is the key met last time at member position n of an object of kind
// k, and the index past the colon after it.
func (d *decoder) memoKey(k objKind, n int, i int) (f field, end int, ok bool) {
	if n >= maxMemoKeys {
		return noField, 0, false
	}
	m := &d.keys[k][n]
	key := m.key[:m.n]
	if e := i + 1 + len(key); len(key) == 0 || e > len(d.b) || string(d.b[i+1:e]) != string(key) {
		return noField, 0, false
	}
	return m.f, i + 1 + len(key), true
}

// keepKey remembers the plain ASCII key name, met at member position n
// of an object of kind k with its colon right after its closing quote,
// and the field it matched exactly (or noField).
func (d *decoder) keepKey(k objKind, n int, name []byte, f field) {
	if n >= maxMemoKeys || len(name)+2 > maxMemoKey {
		return
	}
	m := &d.keys[k][n]
	m.n, m.f = int8(copy(m.key[:], name)+copy(m.key[len(name):], `":`)), f
}

// predBits sizes the table of predicted values: some four hundred callers'
// worth of a record's twenty-odd cached fields, in 128 KiB.
const (
	predBits = 13
	predSize = 1 << predBits
)

// predSlot is where the value field f had when last read for the caller
// the decoder's anchor names is kept. The anchor is the hash of the
// record's userIdentity.principalId once it is read (the caller: a user,
// or a role's session), and 0 before, so fields read before it are
// predicted from whichever record came last. CloudTrail writes
// userIdentity second, so nearly every field is predicted per caller;
// a producer that sorts keys (the realistic corpus does) puts it last,
// and its records get the last record's values only.
// It is nil when the decoder has no table (see withTables).
func (d *decoder) predSlot(f field) *string {
	if d.pred == nil {
		return nil
	}
	h := (uint32(f)+1)*0x9e3779b1 ^ d.anchor
	h ^= h >> 15
	return &d.pred[h&(predSize-1)]
}

// predTable holds the predicted values (see predSlot).
type predTable [predSize]string

// withTables gives d the tables of its memos of values, identity blocks
// and source addresses, when it has none, and returns it.
func (d *decoder) withTables() *decoder {
	if d.pred == nil {
		d.pred = new(predTable)
	}
	if d.idents == nil {
		d.idents = new(identTable)
	}
	if d.filled.ips == nil {
		d.filled.ips = new(ipTable)
	}
	return d
}

// memoValue reads the string value at d.i when it is the value kept in
// slot; it returns false, reading nothing, otherwise.
func (d *decoder) memoValue(dst *string, slot *string) bool {
	i := d.i
	if i >= len(d.b) || d.b[i] != '"' {
		return false
	}
	s := *slot
	end, ok := memoAt(d.b, i+1, s)
	if !ok {
		return false
	}
	*dst, d.i = s, end
	return true
}

// hashString is hashBytes for a string of any length.
func hashString(s string) uint32 {
	if len(s) < 2 {
		return uint32(len(s))<<8 | uint32(s[0]) // s is not empty
	}
	return hashBytes(unsafe.Slice(unsafe.StringData(s), len(s)))
}
