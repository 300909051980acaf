package memory

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// TestClaimArenaCompactsKeepingLiveClaims claims thousands of identities on
// one store, lets most expire and sweeps: the arena must compact (it holds
// no more than the live claims' bytes and their growth slack afterwards)
// and every live claim must still answer with its own value.
func TestClaimArenaCompactsKeepingLiveClaims(t *testing.T) {
	now := time.Unix(1000, 0)
	s := New(WithSweepInterval(0), WithClock(func() time.Time { return now }))
	defer s.Close()
	key := func(i int) state.Key {
		return state.Key{Tenant: "acme", Identity: fmt.Sprintf("event:%08d", i), Name: "verdict"}
	}
	// Values of some length, so that every shard's arena passes the
	// dead bytes a compaction waits for.
	value := func(i int) []byte { return fmt.Appendf(nil, "value of claim %08d", i) }
	const n = 40000
	exec(t, s, func(b *state.Batch) {
		for i := range n {
			ttl := time.Minute
			if i%10 == 0 {
				ttl = time.Hour // one claim in ten outlives the sweep
			}
			b.Claim(key(i), value(i), ttl)
		}
	})
	var used, dead int
	for i := range s.shards {
		used += s.shards[i].claimArena.used
	}
	now = now.Add(2 * time.Minute)
	s.Sweep()
	var afterUsed int
	for i := range s.shards {
		a := &s.shards[i].claimArena
		afterUsed += a.used
		dead += a.dead
	}
	if afterUsed*4 > used || dead != 0 {
		t.Fatalf("arena after 9 claims in 10 expired and a sweep: %d bytes used of %d before, %d dead; want it compacted", afterUsed, used, dead)
	}
	if st := s.Stats(); st.Keys != n/10 {
		t.Fatalf("after the sweep: %+v, want %d claims", st, n/10)
	}
	futures := make(map[int]*state.Future[state.Claimed])
	exec(t, s, func(b *state.Batch) {
		for i := 0; i < n; i += 10 {
			futures[i] = b.Claim(key(i), []byte("again"), time.Hour)
		}
	})
	for i, f := range futures {
		c, err := f.Get()
		if err != nil || c.First || !bytes.Equal(c.Prior, value(i)) {
			t.Fatalf("claim %d after compaction = %+v, %v; want its own value as Prior", i, c, err)
		}
	}
}

// TestClaimOutsideTheArenaIsAGroup checks that a claim the arena cannot
// hold (a value larger than a chunk, a name past the labels' index) is
// held as a group, with the same answers, and that a huge identity, of
// which a claim keeps a digest only, is held as a claim.
func TestClaimOutsideTheArenaIsAGroup(t *testing.T) {
	s := New(WithSweepInterval(0))
	defer s.Close()
	big := strings.Repeat("v", chunkSize+1)
	huge := state.Key{Identity: "event:" + strings.Repeat("x", chunkSize), Name: "verdict"}
	hugeValue := state.Key{Identity: "event:huge-value", Name: "verdict"}
	var first, again, firstValue, againValue *state.Future[state.Claimed]
	exec(t, s, func(b *state.Batch) {
		first, firstValue = b.Claim(huge, []byte("big"), time.Hour), b.Claim(hugeValue, []byte(big), time.Hour)
		again, againValue = b.Claim(huge, nil, time.Hour), b.Claim(hugeValue, nil, time.Hour)
	})
	for _, f := range []*state.Future[state.Claimed]{first, firstValue} {
		if c, err := f.Get(); err != nil || !c.First {
			t.Fatalf("claim of a huge identity or value = %+v, %v; want First", c, err)
		}
	}
	if c, err := again.Get(); err != nil || c.First || string(c.Prior) != "big" {
		t.Fatalf("claim of a huge identity again = %+v, %v; want its value as Prior", c, err)
	}
	if c, err := againValue.Get(); err != nil || c.First || string(c.Prior) != big {
		t.Fatalf("claim of a huge value again = %+v, %v; want its value as Prior", c, err)
	}
	if sh := s.shard(hashKey(huge)); sh.claims.len() != 1 {
		t.Fatalf("a huge identity's claim is held as %d claims, want one", sh.claims.len())
	}
	if sh := s.shard(hashKey(hugeValue)); sh.groups != 1 {
		t.Fatalf("a huge value's claim is held as %d groups, want one", sh.groups)
	}

	// Labels: names on identities spread over the shards until one
	// shard's labels are full; claims past that are groups, answering
	// the same.
	sh := &s.shards[0]
	var onShard []state.Key
	for i := 0; len(onShard) < maxLabels+8; i++ {
		k := state.Key{Identity: fmt.Sprintf("event:%d", i), Name: fmt.Sprintf("name%d", i)}
		if s.shard(hashKey(k)) == sh {
			onShard = append(onShard, k)
		}
	}
	fs := make([]*state.Future[state.Claimed], len(onShard))
	exec(t, s, func(b *state.Batch) {
		for i, k := range onShard {
			fs[i] = b.Claim(k, []byte(k.Name), time.Hour)
		}
	})
	exec(t, s, func(b *state.Batch) {
		for i, k := range onShard {
			fs[i] = b.Claim(k, nil, time.Hour)
		}
	})
	for i, f := range fs {
		if c, err := f.Get(); err != nil || c.First || string(c.Prior) != onShard[i].Name {
			t.Fatalf("claim %d again = %+v, %v; want its value as Prior", i, c, err)
		}
	}
	if len(sh.claimArena.labels) != maxLabels || sh.groups == 0 {
		t.Fatalf("after %d names on one shard: %d labels, %d groups; want the labels full and groups for the rest", len(onShard), len(sh.claimArena.labels), sh.groups)
	}
}
