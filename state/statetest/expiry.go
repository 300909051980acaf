package statetest

import (
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// shortTTL is long enough for a remote round trip, short enough to keep the
// suite fast.
const shortTTL = 150 * time.Millisecond

func expiryRules() group {
	return group{name: "Expiry", parallel: true, rules: []rule{
		{"Put", "a value disappears after its TTL", expirePut},
		{"Claim", "a claim disappears after its TTL and can be claimed First again", expireClaim},
		{"Window", "a window disappears TTL after its last write", expireWindow},
		{"Novelty", "a novelty set disappears TTL after its last write: its members are New again", expireNovelty},
		{"Mark", "a mark disappears TTL after its last write", expireMark},
		{"Bucket", "buckets disappear TTL after their last write", expireBucket},
		{"Throttle", "a throttle is free for another owner after its TTL", expireThrottle},
		{"WriteExtends", "each write to a window, mark or bucket key restarts its TTL", expireWriteExtends},
	}}
}

// waitGone waits for k to expire. When the key has no read-only operation,
// gone is nil and a marker value written after k, with the same TTL, stands
// in: once the marker is gone, k (written earlier) is gone too.
func waitGone(c *check, k state.Key, ttl time.Duration, gone func() bool) {
	c.t.Helper()
	if gone == nil {
		marker := state.Key{Tenant: k.Tenant, Identity: k.Identity, Name: k.Name + ":marker"}
		one(c, "Put", func(b *state.Batch) *state.Future[struct{}] { return b.Put(marker, []byte("m"), ttl) })
		gone = func() bool { return getValue(c, marker) == nil }
	}
	c.eventually(k.Name+" expired", ttl, gone)
}

func expirePut(c *check) {
	k := c.key("val")
	start := time.Now()
	one(c, "Put", func(b *state.Batch) *state.Future[struct{}] { return b.Put(k, []byte("v"), shortTTL) })
	if getValue(c, k) == nil && time.Since(start) < shortTTL {
		c.errorf("value gone before its TTL")
	}
	waitGone(c, k, shortTTL, func() bool { return getValue(c, k) == nil })
}

func expireClaim(c *check) {
	k := c.key("dedupe")
	one(c, "Claim", func(b *state.Batch) *state.Future[state.Claimed] { return b.Claim(k, []byte("v"), shortTTL) })
	waitGone(c, k, shortTTL, func() bool { return getValue(c, k) == nil })
	if !claim(c, k, "again").First {
		c.errorf("Claim after expiry is not First")
	}
}

func expireWindow(c *check) {
	k, s := c.key("win"), span(base, base)
	windowAdd(c, k, "m", base, s, shortTTL)
	waitGone(c, k, shortTTL, func() bool { return windowRead(c, k, s, 1).Count == 0 })
}

func expireNovelty(c *check) {
	k := c.key("nov")
	noveltyAdd(c, k, "m", base, shortTTL)
	waitGone(c, k, shortTTL, nil)
	if got := noveltyAdd(c, k, "m", base, shortTTL); !got.New || got.Size != 0 {
		c.errorf("NoveltyAdd after expiry = %+v, want {New:true Size:0}", got)
	}
}

func expireMark(c *check) {
	k := c.key("mark")
	one(c, "Mark", func(b *state.Batch) *state.Future[state.Mark] { return b.Mark(k, base, state.KeepLatest, shortTTL) })
	waitGone(c, k, shortTTL, func() bool { return !readMark(c, k).Set })
}

func expireBucket(c *check) {
	k := c.key("bkt")
	bucketAdd(c, k, "m", base, time.Hour, 1, shortTTL)
	waitGone(c, k, shortTTL, func() bool { return bucketRead(c, k, base, time.Hour, 1)[0] == 0 })
}

func expireThrottle(c *check) {
	k := c.key("thr")
	throttle(c, k, "a", shortTTL)
	waitGone(c, k, shortTTL, nil)
	if !throttle(c, k, "b", shortTTL) {
		c.errorf("Throttle by another owner after expiry was refused")
	}
}

// expireWriteExtends writes each key twice, half a TTL apart, and reads it
// after the first write's TTL ran out but before the second's did. The reads
// are only judged when the timing provably allowed that.
func expireWriteExtends(c *check) {
	const ttl = 2 * shortTTL
	wk, mk, bk, s := c.key("win"), c.key("mark"), c.key("bkt"), span(base, base)
	write := func() {
		var b state.Batch
		b.WindowAdd(wk, "m", base, s, ttl)
		b.Mark(mk, base, state.KeepLatest, ttl)
		b.BucketAdd(bk, "m", base, time.Hour, 1, ttl)
		c.exec(&b)
	}
	write()
	firstDone := time.Now()
	time.Sleep(ttl / 2)
	second := time.Now()
	write()
	time.Sleep(time.Until(firstDone.Add(ttl + 10*time.Millisecond)))
	win, mark, bkt := windowRead(c, wk, s, 1).Count, readMark(c, mk).Set, bucketRead(c, bk, base, time.Hour, 1)[0]
	if time.Since(second) >= ttl {
		c.t.Skip("statetest: too slow to tell a refreshed TTL from an expired one")
	}
	if win != 1 || !mark || bkt != 1 {
		c.errorf("after the first TTL but within the second: window %d, mark set %v, bucket %d; want 1, true, 1", win, mark, bkt)
	}
}
