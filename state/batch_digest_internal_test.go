package state

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOnKeySkipsDigestCollisions checks that the index by digest never
// yields an operation on another key: two keys whose digests collide
// share a chain, and OnKey must tell them apart by the key itself. A real
// 64-bit collision is not at hand, so the test links b's chain as a
// collision would.
func TestOnKeySkipsDigestCollisions(t *testing.T) {
	a := Key{Identity: "alice", Name: "m"}
	other := Key{Tenant: "t", Identity: "bob", Name: "n"}
	var b Batch
	b.Get(a)
	b.Get(other)
	b.ReadMark(a)
	// As if other's digest were a's: every operation on one chain.
	linkChains(&b, chain{last: 2, write: -1}, a, other)
	b.prev = []int32{-1, 0, 1}

	for _, tc := range []struct {
		key  Key
		want []Op
	}{
		{a, []Op{b.ops[2], b.ops[0]}},
		{other, []Op{b.ops[1]}},
	} {
		got := slices.Collect(b.OnKey(tc.key))
		if !slices.Equal(got, tc.want) {
			t.Errorf("OnKey(%v) over a shared chain = %v, want only its own operations, latest first: %v", tc.key, got, tc.want)
		}
	}
}

// TestLastWriteSkipsDigestCollisions checks that LastWrite never answers
// with another key's write when the digests of two keys collide: the
// digest's latest write is then the other key's, and key's lies further
// back on the shared chain.
func TestLastWriteSkipsDigestCollisions(t *testing.T) {
	a := Key{Identity: "alice", Name: "m"}
	other := Key{Tenant: "t", Identity: "bob", Name: "n"}
	var b Batch
	put := b.Put(a, nil, 0)
	b.Get(a)
	b.Put(other, nil, 0)
	b.Get(other)
	// As if other's digest were a's: one chain, its latest write other's.
	shared := chain{last: 3, write: 2}
	linkChains(&b, shared, a, other)
	b.prev = []int32{-1, 0, 1, 2}

	if got, ok := b.LastWrite(a).(*PutOp); !ok || &got.Result != put {
		t.Errorf("LastWrite(a) over a shared chain = %#v, want a's own Put, not other's", b.LastWrite(a))
	}
	if got := b.LastWrite(other); got != b.ops[2] {
		t.Errorf("LastWrite(other) over a shared chain = %#v, want its Put", got)
	}
	b.ops[0] = &GetOp{Key: a}
	if got := b.LastWrite(a); got != nil {
		t.Errorf("LastWrite(a) with only reads of a on the chain = %#v, want nil", got)
	}
}

// linkChains gives every key of keys the chain c in b's index, as if
// their digests collided, and forgets where the memo found a chain.
func linkChains(b *Batch, c chain, keys ...Key) {
	for _, k := range keys {
		pos, _ := b.last.ref(digest(k))
		b.last.slots[pos].v = c
	}
	b.memo.ok, b.memo.pos = false, -1
}

// TestDigestSeparatesFields checks that the digest depends on each field
// and on which field a string is in, so that the keys detectors build
// (an identity with many names, a tenant's copy of a key) spread over the
// index rather than sharing chains.
func TestDigestSeparatesFields(t *testing.T) {
	keys := []Key{
		{Identity: "alice", Name: "m"},
		{Identity: "m", Name: "alice"},
		{Tenant: "t", Identity: "alice", Name: "m"},
		{Tenant: "alice", Identity: "t", Name: "m"},
		{Identity: "alice", Name: "n"},
		{Identity: "bob", Name: "m"},
		{},
	}
	seen := make(map[uint64]Key)
	for _, k := range keys {
		d := digest(k)
		if prior, ok := seen[d]; ok {
			t.Errorf("keys %v and %v share digest %#x", prior, k, d)
		}
		seen[d] = k
		if again := digest(Key{Tenant: k.Tenant, Identity: k.Identity, Name: k.Name}); again != d {
			t.Errorf("digest(%v) is not stable: %#x then %#x", k, d, again)
		}
	}
}

// TestNameHashesAnswerByContents checks that the digest a batch works out
// with its table of name hashes is digest(k) whatever the bytes of k's
// strings are: constants, copies of them elsewhere, and names that take
// over one another's slots, before and after the batch keeps the table.
func TestNameHashesAnswerByContents(t *testing.T) {
	var b Batch
	names := []string{"loc:first-seen", "enum:raised", "wl:kind:service-08-handler", "wl:kind:service-09-handler"}
	for round := range 3 {
		for i := range 2 * nameTableAfter {
			name := names[i%len(names)]
			if i%3 == 0 {
				name = strings.Clone(name) // the same name, its bytes elsewhere
			}
			k := Key{Tenant: []string{"", "t"}[i%2], Identity: fmt.Sprintf("key:AKIA%04d", i%7), Name: name}
			if got, want := b.memoize(&k), digest(k); got != want {
				t.Fatalf("round %d, key %d %v: memoized digest %#x, want digest(k) %#x", round, i, k, got, want)
			}
			// The same identity in the other tenant: the memo's identity
			// stays, its tenant changes.
			other := Key{Tenant: []string{"t", ""}[i%2], Identity: k.Identity, Name: k.Name}
			if got, want := b.memoize(&other), digest(other); got != want {
				t.Fatalf("round %d, key %d %v: memoized digest %#x, want digest(k) %#x", round, i, other, got, want)
			}
			b.Put(k, nil, 0)
			if b.LastWrite(Key{Tenant: k.Tenant, Identity: k.Identity, Name: strings.Clone(name)}) == nil {
				t.Fatalf("round %d: LastWrite of %v by a copy of its name found nothing", round, k)
			}
		}
		if b.names == nil {
			t.Fatalf("round %d: a batch of %d operations keeps no name hashes", round, b.Len())
		}
		b.Recycle()
	}
}

// TestKeyOfIsTheOperationsOwnKey checks what the walks along a chain
// compare: keyOf answers the address of the operation's own key for
// every kind a batch queues, and a copy of Target's answer for a kind it
// does not know.
func TestKeyOfIsTheOperationsOwnKey(t *testing.T) {
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	span := Span{From: at, To: at}
	k := Key{Tenant: "t", Identity: "id", Name: "n"}
	var b Batch
	b.Claim(k, nil, 0)
	b.ClaimUnique(Key{Identity: "event:1", Name: "verdict"}, nil, 0)
	b.Put(k, nil, 0)
	b.Get(k)
	b.WindowAdd(k, "m", at, span, 0)
	b.WindowAddRead(k, "m", at, span, 1, 0)
	b.WindowPairAddRead(k, [2]string{"a", "b"}, at, [2]Span{span, span}, 1, 0)
	b.WindowRead(k, span, 1)
	b.NoveltyAddBy(k, "m", "o", at, 0)
	b.Mark(k, at, KeepLatest, 0)
	b.ReadMark(k)
	b.BucketAdd(k, "m", at, time.Hour, 2, 0)
	b.BucketRead(k, at, time.Hour, 2)
	b.Throttle(k, "o", 0)
	kinds := map[reflect.Type]bool{}
	for i, op := range b.Ops() {
		kinds[reflect.TypeOf(op)] = true
		own := reflect.ValueOf(op).Elem().FieldByName("Key").Addr().Interface().(*Key)
		if got := keyOf(op); got != own {
			t.Errorf("operation %d (%T): keyOf = %p, want the address of its own key %p", i, op, got, own)
		}
	}
	if len(kinds) != 13 {
		t.Errorf("the batch holds %d kinds of operation, want all 13", len(kinds))
	}
	other := otherOp{Key: k}
	if got := keyOf(other); got == nil || *got != k {
		t.Errorf("keyOf(an unknown kind) = %v, want its Target %v", got, k)
	}
}

// otherOp is an operation kind keyOf does not know.
type otherOp struct{ Key Key }

func (o otherOp) Fail(error)  {}
func (o otherOp) Target() Key { return o.Key }
