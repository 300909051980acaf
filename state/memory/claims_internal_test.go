package memory

import (
	"context"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// exec runs one batch on s and fails t on a store error.
func exec(t *testing.T, s *Store, fill func(b *state.Batch)) {
	t.Helper()
	var b state.Batch
	fill(&b)
	if err := s.Exec(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
}

// TestClaimHeldAloneUntilUsedOtherwise checks that an identity holding a
// claim alone is kept as a claim, not a group, and that every other use
// of it (a Put of its verdict, a second name, another kind) turns it into
// a group with the same answers a group would have given.
func TestClaimHeldAloneUntilUsedOtherwise(t *testing.T) {
	s := New(WithSweepInterval(0))
	defer s.Close()
	k := state.Key{Tenant: "acme", Identity: "event:e1", Name: "verdict"}
	var first, again *state.Future[state.Claimed]
	exec(t, s, func(b *state.Batch) { first, again = b.Claim(k, nil, time.Hour), b.Claim(k, []byte("x"), time.Hour) })
	if c, _ := first.Get(); !c.First {
		t.Fatalf("first Claim = %+v, want First", c)
	}
	if c, _ := again.Get(); c.First || c.Prior == nil || len(c.Prior) != 0 {
		t.Fatalf("second Claim = %+v, want not First with the empty first value as Prior", c)
	}
	sh := s.shard(hashKey(k))
	if sh.claims.len() != 1 || sh.groups != 0 {
		t.Fatalf("a lone claim is held as %d claims and %d groups, want 1 and 0", sh.claims.len(), sh.groups)
	}
	if st := s.Stats(); st.Keys != 1 || st.Identities != 1 || st.Bytes <= 0 {
		t.Fatalf("Stats of one claim: %+v", st)
	}

	// The verdict is put: the identity becomes a group holding it.
	var get *state.Future[[]byte]
	var retry *state.Future[state.Claimed]
	var wrong *state.Future[int]
	other := k
	other.Name = "other"
	var second *state.Future[state.Claimed]
	exec(t, s, func(b *state.Batch) {
		b.Put(k, []byte("findings"), time.Hour)
		get, retry = b.Get(k), b.Claim(k, nil, time.Hour)
		wrong = b.WindowAdd(k, "m", time.Now(), state.Span{To: time.Now()}, time.Hour)
		second = b.Claim(other, []byte("2"), time.Hour)
	})
	if v, err := get.Get(); string(v) != "findings" || err != nil {
		t.Fatalf("Get after Put = %q, %v; want the put value", v, err)
	}
	if c, _ := retry.Get(); c.First || string(c.Prior) != "findings" {
		t.Fatalf("Claim after Put = %+v, want the put value as Prior", c)
	}
	if _, err := wrong.Get(); err == nil {
		t.Fatal("WindowAdd on a claimed key succeeded, want the wrong-kind error")
	}
	if c, _ := second.Get(); !c.First {
		t.Fatalf("Claim of a second name = %+v, want First", c)
	}
	if sh.claims.len() != 0 || sh.groups != 1 || sh.keys != 2 {
		t.Fatalf("after other uses: %d claims, %d groups, %d keys; want 0, 1, 2", sh.claims.len(), sh.groups, sh.keys)
	}
	if st := s.Stats(); st.Keys != 2 || st.Identities != 1 {
		t.Fatalf("Stats after promotion: %+v, want 2 keys of 1 identity", st)
	}
}

// TestClaimsCollideApart gives two identities one hash, as a collision of
// hashKey would: the second is held as a group, and each answers as
// itself; an expired claim gives its slot up.
func TestClaimsCollideApart(t *testing.T) {
	var sh shard
	sh.init(0)
	var x scratch
	const h, now = 7, 1000
	a := state.Key{Identity: "a", Name: "verdict"}
	b := state.Key{Identity: "b", Name: "verdict"}
	if c, ok := sh.claimAlone(&a, h, []byte("A"), now+10, now, &x); !ok || !c.First {
		t.Fatalf("claim of a = %+v, %v; want First, held alone", c, ok)
	}
	if _, ok := sh.claimAlone(&b, h, []byte("B"), now+10, now, &x); ok {
		t.Fatal("b took the slot a's live claim holds")
	}
	// A claim keeps a digest of its tenant and identity, not their bytes:
	// a's identity in another tenant is another identity.
	if _, ok := sh.claimAlone(ptr(state.Key{Tenant: "other", Identity: "a", Name: "verdict"}), h, []byte("O"), now+10, now, &x); ok {
		t.Fatal("a of another tenant took the slot a's live claim holds")
	}
	if g := sh.group(&b, h); g != nil {
		t.Fatalf("b has a group before it made one: %v", g)
	}
	if c, ok := sh.claimAlone(&a, h, nil, now+10, now+5, &x); !ok || c.First || string(c.Prior) != "A" {
		t.Fatalf("claim of a again = %+v, %v; want a's value as Prior", c, ok)
	}
	// Past a's expiry, b takes the slot.
	if c, ok := sh.claimAlone(&b, h, []byte("B"), now+30, now+20, &x); !ok || !c.First {
		t.Fatalf("claim of b after a expired = %+v, %v; want First, held alone", c, ok)
	}
	if c, ok := sh.claimAlone(&a, h, []byte("A2"), now+40, now+20, &x); ok || c.First {
		t.Fatalf("claim of a after b took the slot = %+v, %v; want it left to a group", c, ok)
	}
	if sh.bytes != claimCost(&sh, h) {
		t.Fatalf("accounted %d bytes for one claim of cost %d", sh.bytes, claimCost(&sh, h))
	}
}

// TestEvictionOrdersClaimsAndGroupsByUse fills a small budget with claims
// and groups used in turn and checks that eviction takes the least
// recently used first, whichever kind it is, and that a claim used again
// moves to the back of the queue.
func TestEvictionOrdersClaimsAndGroupsByUse(t *testing.T) {
	s := New(WithSweepInterval(0), WithMaxBytes(0))
	defer s.Close()
	id := func(i int) string { return "id" + string(rune('a'+i)) }
	// Every identity on one shard, whatever their hashes: the test drives
	// the shard directly.
	sh := &s.shards[0]
	var x scratch
	now := int64(1)
	for i := range 6 {
		k := state.Key{Identity: id(i), Name: "n"}
		if i%2 == 0 {
			sh.claimAlone(&k, hashKey(k), nil, now+100, now, &x)
		} else {
			e := newEntry("n", kindMark)
			e.expires = now + 100
			sh.add(sh.create(&k, hashKey(k)), e)
		}
	}
	// Use claim 0 again: it is now the most recent.
	k0 := state.Key{Identity: id(0), Name: "n"}
	sh.claimAlone(&k0, hashKey(k0), nil, now+100, now, &x)
	sh.budget = sh.bytes - 1 // one identity too many
	sh.evict(nil)
	if sh.evicted != 1 {
		t.Fatalf("evicted %d identities to shed one", sh.evicted)
	}
	if k1 := (state.Key{Identity: id(1), Name: "n"}); sh.lookup(&k1, hashKey(k1)) != nil {
		t.Fatal("group 1 (least recently used once claim 0 was used again) survived")
	}
	sh.budget = 1 // shed everything but the last used
	sh.evict(nil)
	if sh.claims.len() != 1 || sh.groups != 0 {
		t.Fatalf("after shedding all: %d claims, %d groups; want the last used claim alone", sh.claims.len(), sh.groups)
	}
	if _, ok := sh.claims.get(hashKey(k0)); !ok {
		t.Fatal("the claim used last was evicted")
	}
}

// TestSweepReclaimsClaims checks that expired claims are swept and their
// bytes returned.
func TestSweepReclaimsClaims(t *testing.T) {
	now := time.Unix(1000, 0)
	s := New(WithSweepInterval(0), WithClock(func() time.Time { return now }))
	defer s.Close()
	exec(t, s, func(b *state.Batch) {
		for i := range 100 {
			b.Claim(state.Key{Identity: "event:" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Name: "verdict"}, []byte("v"), time.Minute)
		}
	})
	if st := s.Stats(); st.Keys != 100 || st.Identities != 100 {
		t.Fatalf("after 100 claims: %+v", st)
	}
	now = now.Add(time.Minute)
	s.Sweep()
	if st := s.Stats(); st.Keys != 0 || st.Identities != 0 || st.Bytes != 0 {
		t.Fatalf("after the claims expired and a sweep: %+v, want nothing held", st)
	}
}

// claimCost returns the cost of the claim sh holds under h.
func claimCost(sh *shard, h uint64) int64 {
	c, _ := sh.claims.get(h)
	return c.cost()
}
