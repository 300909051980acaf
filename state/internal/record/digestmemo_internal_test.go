package record

import (
	"crypto/sha256"
	"fmt"
	"hash/maphash"
	"strings"
	"testing"
	"unsafe"

	"github.com/iamsentry/iamsentry/state"
)

// TestMemoDigestIsDigest: memoDigest gives Digest's answer whether the
// name is new, remembered, or evicted by another landing on its slot (far
// more names than slots), for names at and past memoMaxLen; and a name
// whose bytes the caller reuses after the call is remembered by its bytes
// then, not by what the buffer holds later.
func TestMemoDigestIsDigest(t *testing.T) {
	names := make([]string, 0, 3*memoSlots)
	for i := range cap(names) {
		names = append(names, fmt.Sprintf("enum:grid:%d:%d", i%977, i))
	}
	names = append(names, "", strings.Repeat("x", memoMaxLen), strings.Repeat("y", memoMaxLen+1))
	for round := range 3 {
		for _, s := range names {
			if got, want := memoDigest(s), Digest(s); got != want {
				t.Fatalf("round %d: memoDigest(%q) = %x, Digest %x", round, s, got, want)
			}
		}
	}

	buf := []byte("loc:country")
	s := unsafe.String(&buf[0], len(buf)) // a name borrowed from a buffer
	want := Digest("loc:country")
	if got := memoDigest(s); got != want {
		t.Fatalf("memoDigest(borrowed) = %x, want %x", got, want)
	}
	copy(buf, "loc:firstse") // the caller reuses its buffer
	if got := memoDigest("loc:country"); got != want {
		t.Fatalf("after the buffer changed, memoDigest(loc:country) = %x, want %x", got, want)
	}
	if got, want := memoDigest(string(buf)), Digest("loc:firstse"); got != want {
		t.Fatalf("memoDigest(loc:firstse) = %x, want %x", got, want)
	}
}

// FuzzMemoDigest: for any sequence of names, each digested twice in a row
// and then all again, memoDigest agrees with Digest.
func FuzzMemoDigest(f *testing.F) {
	f.Add("loc:country\x00loc:asn\x00loc:country")
	f.Add("keys\x00\x00" + strings.Repeat("z", 200))
	f.Fuzz(func(t *testing.T, joined string) {
		names := strings.Split(joined, "\x00")
		for range 2 {
			for _, s := range names {
				for range 2 {
					if got, want := memoDigest(s), Digest(s); got != want {
						t.Fatalf("memoDigest(%q) = %x, Digest %x", s, got, want)
					}
				}
			}
		}
	})
}

// TestNamesMemoisesAllButClaims: Names gives every operation's name digest
// in order, claims included, and leaves a claim's name (an event's own)
// out of the memo.
func TestNamesMemoisesAllButClaims(t *testing.T) {
	key := func(n string) state.Key { return state.Key{Tenant: "t", Identity: "p", Name: n} }
	claim := &state.ClaimOp{Key: key("dedupe:claim-only-once")}
	ops := []state.Op{&state.MarkOp{Key: key("recon:learn:probe")}, claim, &state.WindowAddOp{Key: key("enum:days")}}
	got := Names(ops, nil)
	for i, n := range []string{"recon:learn:probe", "dedupe:claim-only-once", "enum:days"} {
		if got[i] != Digest(n) {
			t.Errorf("Names[%d] = %x, want Digest(%q) = %x", i, got[i], n, Digest(n))
		}
	}
	slot := &memoTable[maphash.String(memoSeed, claim.Key.Name)&(memoSlots-1)]
	if m := slot.Load(); m != nil && m.s == claim.Key.Name {
		t.Errorf("a claim's name was memoised")
	}
}

// TestBucketKeyIsSHA256Prefix: a bucket's member digest, now taken from
// the memo, is still the first bytes of the member's SHA-256, as records
// stored by earlier builds hold it.
func TestBucketKeyIsSHA256Prefix(t *testing.T) {
	for _, m := range []string{"", "ListBuckets", "arn:aws:iam::123456789012:role/Admin", strings.Repeat("r", memoMaxLen+9)} {
		for range 2 { // a miss, then a hit
			sum := sha256.Sum256([]byte(m))
			if got := bucketKey(m); string(got[:]) != string(sum[:bucketDigest]) {
				t.Errorf("bucketKey(%q) = %x, want %x", m, got, sum[:bucketDigest])
			}
		}
	}
}

// BenchmarkNameDigest digests the names a batch of the realistic corpus
// digests most (see memoDigest), with SHA-256 each time and from the memo.
func BenchmarkNameDigest(b *testing.B) {
	names := []string{"loc:country", "loc:first-seen", "loc:asn", "recon:grid:probe:1", "enum:grid:window:0", "keys", "enum:days", "mfa:places", "network:ASN 16509", "enum:seen:net:AS16509|aws-sdk-go-v2"}
	for _, bc := range []struct {
		name string
		f    func(string) uint64
	}{{"sha256", Digest}, {"memo", memoDigest}} {
		b.Run(bc.name, func(b *testing.B) {
			var sum uint64
			for i := 0; b.Loop(); i++ {
				sum += bc.f(names[i%len(names)])
			}
			if sum == 0 {
				b.Fatal("no digest")
			}
		})
	}
}
