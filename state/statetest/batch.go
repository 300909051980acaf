package statetest

import (
	"errors"
	"slices"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

func batchRules() group {
	return group{name: "Batch", rules: []rule{
		{"NotExecuted", "a future read before Exec returns state.ErrNotExecuted", batchNotExecuted},
		{"Empty", "Exec of an empty batch succeeds", batchEmpty},
		{"ResolvesAll", "Exec resolves the future of every operation it ran", batchResolvesAll},
		{"QueueOrder", "operations run in queue order and see the effects of earlier ones in the batch", batchQueueOrder},
		{"TenantsIndependent", "keys of different tenants are independent, even with the same identity and name", batchTenants},
		{"BadTTL", "a write with a non-positive TTL fails on its own future only; the rest of the batch runs", batchBadTTL},
	}}
}

func batchNotExecuted(c *check) {
	var b state.Batch
	f := b.Claim(c.key("dedupe"), []byte("v"), hour)
	if _, err := f.Get(); !errors.Is(err, state.ErrNotExecuted) {
		c.errorf("Get before Exec: err = %v, want state.ErrNotExecuted", err)
	}
}

func batchEmpty(c *check) {
	if err := c.tryExec(new(state.Batch)); err != nil {
		c.errorf("Exec of an empty batch: %v", err)
	}
}

func batchResolvesAll(c *check) {
	var b state.Batch
	errs := queueEvery(c, &b)
	c.exec(&b)
	for i, read := range errs {
		if err := read(); err != nil {
			c.errorf("operation %d of %d: %v", i, len(errs), err)
		}
	}
}

// queueEvery queues one of every operation and returns readers of their
// futures' errors.
func queueEvery(c *check, b *state.Batch) []func() error {
	s := span(base, base.Add(time.Hour))
	return []func() error{
		errOf(b.Claim(c.key("claim"), []byte("v"), hour)),
		errOf(b.Put(c.key("put"), []byte("v"), hour)),
		errOf(b.Get(c.key("put"))),
		errOf(b.WindowAdd(c.key("win"), "m", base, s, hour)),
		errOf(b.WindowRead(c.key("win"), s, 5)),
		errOf(b.WindowAddRead(c.key("win"), "n", base, s, 5, hour)),
		errOf(b.NoveltyAdd(c.key("nov"), "m", base, hour)),
		errOf(b.Mark(c.key("mark"), base, state.KeepLatest, hour)),
		errOf(b.ReadMark(c.key("mark"))),
		errOf(b.BucketAdd(c.key("bkt"), "m", base, time.Hour, 3, hour)),
		errOf(b.BucketRead(c.key("bkt"), base, time.Hour, 3)),
		errOf(b.Throttle(c.key("thr"), "o", hour)),
	}
}

func errOf[T any](f *state.Future[T]) func() error {
	return func() error { _, err := f.Get(); return err }
}

func batchQueueOrder(c *check) {
	var b state.Batch
	k, w, m, bk := c.key("val"), c.key("win"), c.key("mark"), c.key("bkt")
	s := span(base, base.Add(time.Hour))
	g0, _, g1 := b.Get(k), b.Put(k, []byte("v1"), hour), b.Get(k)
	c1, c2 := b.Claim(k, []byte("v2"), hour), b.Get(k)
	_, wr := b.WindowAdd(w, "m", base, s, hour), b.WindowRead(w, s, 5)
	_, mr := b.Mark(m, base, state.KeepLatest, hour), b.ReadMark(m)
	_, br := b.BucketAdd(bk, "m", base, time.Hour, 1, hour), b.BucketRead(bk, base, time.Hour, 1)
	c.exec(&b)
	if v := get(c, "Get", g0); v != nil {
		c.errorf("Get before Put in the batch = %q, want nil", v)
	}
	if v := get(c, "Get", g1); string(v) != "v1" {
		c.errorf("Get after Put in the batch = %q, want v1", v)
	}
	if cl := get(c, "Claim", c1); cl.First || string(cl.Prior) != "v1" {
		c.errorf("Claim after Put in the batch = %+v, want not First with Prior v1", cl)
	}
	if v := get(c, "Get", c2); string(v) != "v1" {
		c.errorf("Get after the losing Claim = %q, want v1", v)
	}
	if got := get(c, "WindowRead", wr); got.Count != 1 {
		c.errorf("WindowRead after WindowAdd in the batch = %+v, want Count 1", got)
	}
	if got := get(c, "ReadMark", mr); !sameMark(got, state.Mark{Set: true, At: base}) {
		c.errorf("ReadMark after Mark in the batch = %+v, want Set at %v", got, base)
	}
	if got := get(c, "BucketRead", br); !slices.Equal(got, []int{1}) {
		c.errorf("BucketRead after BucketAdd in the batch = %v, want [1]", got)
	}
}

func batchTenants(c *check) {
	a, b := c.key("shared"), c.key("shared")
	b.Tenant = c.tenant + "-other"
	if !claim(c, a, "a").First || !claim(c, b, "b").First {
		c.errorf("Claim of the same identity and name in two tenants: both must be First")
	}
	if va, vb := getValue(c, a), getValue(c, b); string(va) != "a" || string(vb) != "b" {
		c.errorf("Get in two tenants = %q, %q, want a, b", va, vb)
	}
	wa, wb := c.key("win"), c.key("win")
	wb.Tenant = b.Tenant
	s := span(base, base.Add(time.Hour))
	windowAdd(c, wa, "m1", base, s, hour)
	if n := windowAdd(c, wb, "m2", base, s, hour); n != 1 {
		c.errorf("WindowAdd count in the second tenant = %d, want 1", n)
	}
}

func batchBadTTL(c *check) {
	var b state.Batch
	bad := b.Put(c.key("bad"), []byte("v"), 0)
	good := b.Put(c.key("good"), []byte("v"), hour)
	read := b.Get(c.key("good"))
	if err := c.tryExec(&b); err != nil {
		c.errorf("Exec with one bad operation returned %v, want nil (the error belongs on the future)", err)
	}
	if _, err := bad.Get(); err == nil {
		c.errorf("Put with TTL 0 succeeded, want an error on its future")
	}
	if _, err := good.Get(); err != nil {
		c.errorf("Put after a bad Put failed: %v", err)
	}
	if v, _ := read.Get(); string(v) != "v" {
		c.errorf("Get after a bad Put = %q, want v", v)
	}
}
