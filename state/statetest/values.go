package statetest

import (
	"bytes"

	"github.com/iamsentry/iamsentry/state"
)

func claim(c *check, k state.Key, v string) state.Claimed {
	c.t.Helper()
	return one(c, "Claim", func(b *state.Batch) *state.Future[state.Claimed] {
		return b.Claim(k, []byte(v), hour)
	})
}

func getValue(c *check, k state.Key) []byte {
	c.t.Helper()
	return one(c, "Get", func(b *state.Batch) *state.Future[[]byte] { return b.Get(k) })
}

func put(c *check, k state.Key, v []byte) {
	c.t.Helper()
	one(c, "Put", func(b *state.Batch) *state.Future[struct{}] { return b.Put(k, v, hour) })
}

func valueRules() group {
	return group{name: "Value", rules: []rule{
		{"ClaimFirst", "the first Claim of a key is First and stores its value", claimFirst},
		{"ClaimSecond", "a second Claim is not First, reports the first value as Prior and stores nothing", claimSecond},
		{"PutReplaces", "Put replaces the value a key held, whatever put it there", putReplaces},
		{"GetAbsent", "Get of a key that does not exist is nil, without error", getAbsent},
		{"GetEmpty", "Get of a key holding an empty value is empty but not nil", getEmpty},
		{"ValuesCopied", "values are copied in and out: callers cannot alias the store's memory", valuesCopied},
	}}
}

func claimFirst(c *check) {
	k := c.key("dedupe")
	got := claim(c, k, "verdict-1")
	if !got.First || got.Prior != nil {
		c.errorf("Claim of a new key = %+v, want First and no Prior", got)
	}
	if v := getValue(c, k); string(v) != "verdict-1" {
		c.errorf("Get after Claim = %q, want %q", v, "verdict-1")
	}
}

func claimSecond(c *check) {
	k := c.key("dedupe")
	claim(c, k, "first")
	got := claim(c, k, "second")
	if got.First || string(got.Prior) != "first" {
		c.errorf("second Claim = {First:%v Prior:%q}, want {First:false Prior:\"first\"}", got.First, got.Prior)
	}
	if v := getValue(c, k); string(v) != "first" {
		c.errorf("Get after a losing Claim = %q, want %q", v, "first")
	}
}

func putReplaces(c *check) {
	k := c.key("policy")
	claim(c, k, "claimed")
	put(c, k, []byte("v1"))
	if v := getValue(c, k); string(v) != "v1" {
		c.errorf("Get after Put over a claimed key = %q, want %q", v, "v1")
	}
	put(c, k, []byte("v2"))
	if v := getValue(c, k); string(v) != "v2" {
		c.errorf("Get after second Put = %q, want %q", v, "v2")
	}
}

func getAbsent(c *check) {
	if v := getValue(c, c.key("absent")); v != nil {
		c.errorf("Get of an absent key = %q, want nil", v)
	}
}

func getEmpty(c *check) {
	k := c.key("empty")
	put(c, k, []byte{})
	if v := getValue(c, k); v == nil || len(v) != 0 {
		c.errorf("Get of an empty value = %#v, want []byte{}", v)
	}
}

func valuesCopied(c *check) {
	k := c.key("alias")
	in := []byte("original")
	put(c, k, in)
	copy(in, "XXXXXXXX")
	out := getValue(c, k)
	if string(out) != "original" {
		c.errorf("Get after the caller changed its Put slice = %q, want %q", out, "original")
	}
	copy(out, "YYYYYYYY")
	if again := getValue(c, k); !bytes.Equal(again, []byte("original")) {
		c.errorf("Get after the caller changed a Get result = %q, want %q", again, "original")
	}
	claimed := claim(c, k, "other")
	if len(claimed.Prior) > 0 {
		claimed.Prior[0] = 'Z'
	}
	if again := getValue(c, k); string(again) != "original" {
		c.errorf("Get after the caller changed a Claim Prior = %q, want %q", again, "original")
	}
}
