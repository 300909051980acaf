package cloudtrail

import (
	"encoding/binary"
	"unsafe"
)

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

// memoWays is how many keys each member position remembers: the last
// two met there. Records of one source differ by optional keys
// (sessionCredentialFromConsole is in a third of the realistic month's
// records, errorCode and additionalEventData in a few), which shift the
// positions of the keys after them; remembering one key a position,
// 12 % of the month's top-level keys missed, each then scanned, looked
// up by hash and remembered anew. The key met last comes first
// (rawRecord.object moves a key found second to the front), and object
// compares the two written out: a third way means a third comparison
// there.
const memoWays = 2

// maxMemoKey bounds the length of a remembered key with the comma
// before it, its quotes and its colon; CloudTrail's longest key,
// sessionCredentialFromConsole, is 28 bytes, 32 with those.
const maxMemoKey = 32

// keyMemo is the key last met at one member position of one kind of
// object, and the field it matched (noField for a key Parse skips). A
// key that matched a field but for its case is never remembered: the
// fast path declines it. The key is held in the memo itself, so
// remembering one costs no allocation, as the member's tokens up to its
// value are written compactly, as CloudTrail writes them: `,"key":`
// (`"key":` at the first position), so that a hit checks the comma and
// steps over the key and the colon in one comparison.
//
// The key is kept as four little-endian words, zero past its end, and
// a mask of the bytes that count in each, so that comparing it is four
// loads and no branch: with the runtime's memequal the comparison of
// some twenty keys a record was a tenth of the parser's instructions.
type keyMemo struct {
	word [maxMemoKey / 8]uint64 // the comma, the quoted name and the colon
	mask [maxMemoKey / 8]uint64 // the bytes of word that hold the key
	n    int8                   // the length of word's bytes; 0 when nothing is remembered
	f    field
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

// at reports whether the memo holds the key that w starts with: the
// comma before it, the key and its colon, in one comparison (see
// rawRecord.object, which reads members with it).
func (m *keyMemo) at(w *[maxMemoKey]byte) bool {
	le := binary.LittleEndian
	return (le.Uint64(w[0:])^m.word[0])&m.mask[0]|(le.Uint64(w[8:])^m.word[1])&m.mask[1]|
		(le.Uint64(w[16:])^m.word[2])&m.mask[2]|(le.Uint64(w[24:])^m.word[3])&m.mask[3] == 0 && m.n != 0
}

// spaceAfterKey steps over the space between a key's colon and its
// value, which compact JSON does not have (see newline).
func (d *decoder) spaceAfterKey() {
	if i := skipSpace(d.b, d.i); i != d.i {
		d.i, d.newline = i, true
	}
}

// keepKey remembers the plain ASCII key name, met at member position n
// of an object of kind k with its colon right after its closing quote,
// and the field it matched exactly (or noField).
func (d *decoder) keepKey(k objKind, n int, name []byte, f field) {
	if n >= maxMemoKeys || len(name)+4 > maxMemoKey {
		return
	}
	var key [maxMemoKey]byte
	size := 0
	if n > 0 {
		key[0], size = ',', 1
	}
	size += copy(key[size:], `"`)
	size += copy(key[size:], name)
	size += copy(key[size:], `":`)
	ways := &d.keys[k][n]
	ways[1] = ways[0] // the older key gives way
	m := &ways[0]
	for j := range m.word {
		m.word[j] = binary.LittleEndian.Uint64(key[8*j:])
		// The low rest bytes count; a shift by 64 is 0 in Go, so a whole
		// word's mask is all ones.
		m.mask[j] = 1<<(8*min(max(size-8*j, 0), 8)) - 1
	}
	m.n, m.f = int8(size), f
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

// memoValue reads the string value whose opening quote is at d.i when it
// is the value kept in slot; it returns false, reading nothing,
// otherwise. str, its caller, has seen the quote; leaving that check to
// it keeps memoValue small enough to be inlined there.
func (d *decoder) memoValue(dst *string, slot *string) bool {
	s := *slot
	end, ok := memoAt(d.b, d.i+1, s)
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
