package redis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
)

func TestRedisKey(t *testing.T) {
	tests := []struct {
		k    state.Key
		want string
	}{
		{state.Key{Tenant: "acme", Identity: "AKIA1", Name: "enum:actions"}, "p:{acme:AKIA1}:enum:actions"},
		{state.Key{Identity: "arn:aws:iam::1:role/x", Name: "n"}, "p:{:arn:aws:iam::1:role/x}:n"},
		{state.Key{Tenant: "a:b", Identity: "c", Name: "n"}, "p:{a%3Ab:c}:n"},
		{state.Key{Tenant: "t", Identity: "x}:n{", Name: "n"}, "p:{t:x%7D:n%7B}:n"},
		{state.Key{Tenant: "{t}", Identity: "100%", Name: "}{"}, "p:{%7Bt%7D:100%25}:}{"},
	}
	for _, tt := range tests {
		if got := redisKey("p:", tt.k); got != tt.want {
			t.Errorf("redisKey(%+v) = %q, want %q", tt.k, got, tt.want)
		}
	}
}

// TestRedisKeyInjective lists keys that differ and must stay apart.
func TestRedisKeyInjective(t *testing.T) {
	keys := []state.Key{
		{Tenant: "a:b", Identity: "c", Name: "n"},
		{Tenant: "a", Identity: "b:c", Name: "n"},
		{Tenant: "a", Identity: "b}:c{", Name: "n"},
		{Tenant: "a", Identity: "b%7D:c%7B", Name: "n"},
		{Tenant: "a", Identity: "b", Name: "c}:n"},
		{Tenant: "a", Identity: "b}:c", Name: "n"},
		{Tenant: "", Identity: "a:b", Name: "n"},
		{Tenant: "a", Identity: "", Name: "b}:n"},
	}
	seen := map[string]state.Key{}
	for _, k := range keys {
		rk := redisKey(DefaultPrefix, k)
		if prev, ok := seen[rk]; ok {
			t.Errorf("keys %+v and %+v both render as %q", prev, k, rk)
		}
		seen[rk] = k
	}
}

// TestHashTagOneSlot writes one of every operation for hostile identities
// on a real Cluster and asks the cluster where each key lives: all keys of
// one identity must share one slot, the slot of its tenant and identity.
func TestHashTagOneSlot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node Redis Cluster")
	}
	ctx := context.Background()
	c := redistest.StartCluster(t, 3)
	o, err := ParseOptions(c.URL() + "?layout=keys") // the key per state key this test names
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cc := c.Client()
	identities := []state.Key{
		{Tenant: "acme", Identity: "AKIAEXAMPLE"},
		{Tenant: "acme", Identity: "evil}{other"},
		{Tenant: "acme", Identity: "}"},
		{Tenant: "acme", Identity: "{"},
		{Tenant: "a:b{", Identity: "arn:aws:sts::1:assumed-role/r/{session}"},
		{Tenant: "", Identity: ""},
	}
	names := []string{"claim", "put", "win", "nov", "mark", "bkt", "thr"}
	for _, id := range identities {
		var b state.Batch
		k := func(n string) state.Key { return state.Key{Tenant: id.Tenant, Identity: id.Identity, Name: n} }
		span := state.Span{From: time.Unix(0, 0), To: time.Unix(1e9, 0)}
		at := time.Unix(1722517200, 0)
		b.Claim(k("claim"), []byte("v"), time.Hour)
		b.Put(k("put"), []byte("v"), time.Hour)
		b.WindowAdd(k("win"), "m", at, span, time.Hour)
		b.NoveltyAdd(k("nov"), "m", at, time.Hour)
		b.Mark(k("mark"), at, state.KeepLatest, time.Hour)
		b.BucketAdd(k("bkt"), "m", at, time.Hour, 2, time.Hour)
		b.Throttle(k("thr"), "o", time.Hour)
		if err := s.Exec(ctx, &b); err != nil {
			t.Fatal(err)
		}
		wantTag := hashTag(redisKey(s.prefix, id))
		if strings.ContainsAny(wantTag, "{}") {
			t.Errorf("identity %+v: hash tag %q contains a brace", id, wantTag)
		}
		want, err := cc.ClusterKeySlot(ctx, wantTag).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			key := redisKey(s.prefix, k(n))
			slot, err := cc.ClusterKeySlot(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if slot != want {
				t.Errorf("identity %+v: key %q is on slot %d, want %d (the slot of %q)", id, key, slot, want, wantTag)
			}
			if n, err := cc.Exists(ctx, key).Result(); err != nil || n != 1 {
				t.Errorf("identity %+v: key %q not found on the cluster (%v): the store wrote another key", id, key, err)
			}
		}
	}
}
