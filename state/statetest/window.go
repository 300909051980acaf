package statetest

import (
	"slices"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

func windowAdd(c *check, k state.Key, m string, at time.Time, count state.Span, ttl time.Duration) int {
	c.t.Helper()
	return one(c, "WindowAdd", func(b *state.Batch) *state.Future[int] {
		return b.WindowAdd(k, m, at, count, ttl)
	})
}

func windowRead(c *check, k state.Key, s state.Span, limit int) state.Window {
	c.t.Helper()
	return one(c, "WindowRead", func(b *state.Batch) *state.Future[state.Window] {
		return b.WindowRead(k, s, limit)
	})
}

func windowRules() group {
	return group{name: "Window", rules: []rule{
		{"DistinctCount", "WindowAdd counts the distinct members whose time lies in the span", windowDistinct},
		{"RetryHarmless", "adding a member again at the same time changes nothing", windowRetry},
		{"LatestTimeKept", "a member keeps the latest time it was added at", windowLatest},
		{"SpanInclusive", "a span includes both its ends and nothing outside them", windowInclusive},
		{"OldDropped", "members older than At-TTL are dropped, even when the span covers them", windowOldDropped},
		{"ReadOrder", "WindowRead lists members earliest first, ties by member, up to Limit", windowReadOrder},
		{"ReadOnly", "WindowRead of an absent key sees nothing and creates nothing", windowReadOnly},
		{"AddRead", "WindowAddRead is WindowAdd then WindowRead of its span: the window after the add, members earliest first, up to Limit", windowAddRead},
	}}
}

func windowDistinct(c *check) {
	k, s := c.key("enum"), span(base, base.Add(time.Hour))
	for i, m := range []string{"ListUsers", "ListRoles", "ListPolicies"} {
		if n := windowAdd(c, k, m, base.Add(time.Duration(i)*time.Minute), s, hour); n != i+1 {
			c.errorf("count after %d distinct members = %d, want %d", i+1, n, i+1)
		}
	}
}

func windowRetry(c *check) {
	k, s := c.key("enum"), span(base, base.Add(time.Hour))
	windowAdd(c, k, "a", base, s, hour)
	windowAdd(c, k, "b", base.Add(time.Minute), s, hour)
	var b state.Batch
	f1 := b.WindowAdd(k, "a", base, s, hour)
	f2 := b.WindowAdd(k, "a", base, s, hour)
	c.exec(&b)
	if n1, n2 := get(c, "retry 1", f1), get(c, "retry 2", f2); n1 != 2 || n2 != 2 {
		c.errorf("counts after re-adding a member = %d, %d, want 2, 2", n1, n2)
	}
}

func windowLatest(c *check) {
	k := c.key("enum")
	newer, older := base.Add(10*time.Minute), base
	windowAdd(c, k, "m", newer, span(newer, newer), hour)
	if n := windowAdd(c, k, "m", older, span(older, older), hour); n != 0 {
		c.errorf("count at the older time after adding it later = %d, want 0 (the newer time is kept)", n)
	}
	if w := windowRead(c, k, span(newer, newer), 10); w.Count != 1 {
		c.errorf("count at the newer time = %d, want 1", w.Count)
	}
}

func windowInclusive(c *check) {
	k := c.key("enum")
	from, to := base, base.Add(time.Hour)
	const ttl = 2 * hour // keep "from" within retention when "after" is added
	windowAdd(c, k, "before", from.Add(-time.Nanosecond), span(from, to), ttl)
	windowAdd(c, k, "from", from, span(from, to), ttl)
	windowAdd(c, k, "to", to, span(from, to), ttl)
	n := windowAdd(c, k, "after", to.Add(time.Second), span(from, to), ttl)
	if n != 2 {
		c.errorf("WindowAdd count over [from,to] = %d, want 2 (from and to only)", n)
	}
	w := windowRead(c, k, span(from, to), 10)
	if w.Count != 2 || !slices.Equal(w.Members, []string{"from", "to"}) {
		c.errorf("WindowRead over [from,to] = %+v, want {Count:2 Members:[from to]}", w)
	}
}

func windowOldDropped(c *check) {
	k, ttl := c.key("enum"), 10*time.Minute
	wide := span(base.Add(-time.Hour), base.Add(time.Hour))
	windowAdd(c, k, "old", base, wide, ttl)
	if n := windowAdd(c, k, "new", base.Add(11*time.Minute), wide, ttl); n != 1 {
		c.errorf("count with a member older than At-TTL in the span = %d, want 1", n)
	}
	if w := windowRead(c, k, wide, 10); w.Count != 1 || !slices.Equal(w.Members, []string{"new"}) {
		c.errorf("WindowRead after the drop = %+v, want {Count:1 Members:[new]}", w)
	}
}

func windowReadOrder(c *check) {
	k, s := c.key("enum"), span(base, base.Add(time.Hour))
	adds := []struct {
		m   string
		off time.Duration
	}{{"d", 3}, {"c", 1}, {"h", 2}, {"b", 2}, {"f", 2}, {"a", 2}, {"e", 0}}
	var b state.Batch
	for _, a := range adds {
		b.WindowAdd(k, a.m, base.Add(a.off*time.Minute), s, hour)
	}
	c.exec(&b)
	if w := windowRead(c, k, s, 10); w.Count != 7 || !slices.Equal(w.Members, []string{"e", "c", "a", "b", "f", "h", "d"}) {
		c.errorf("WindowRead = %+v, want {Count:7 Members:[e c a b f h d]}", w)
	}
	if w := windowRead(c, k, s, 3); w.Count != 7 || !slices.Equal(w.Members, []string{"e", "c", "a"}) {
		c.errorf("WindowRead limit 3 = %+v, want {Count:7 Members:[e c a]}", w)
	}
	if w := windowRead(c, k, s, 0); w.Count != 7 || len(w.Members) != 0 {
		c.errorf("WindowRead limit 0 = %+v, want {Count:7 Members:[]}", w)
	}
}

func windowReadOnly(c *check) {
	k := c.key("enum")
	if w := windowRead(c, k, span(base, base.Add(time.Hour)), 10); w.Count != 0 || len(w.Members) != 0 {
		c.errorf("WindowRead of an absent key = %+v, want zero", w)
	}
	if got := claim(c, k, "x"); !got.First {
		c.errorf("Claim after WindowRead of an absent key is not First: the read created the key")
	}
}

func noveltyAdd(c *check, k state.Key, m string, at time.Time, ttl time.Duration) state.Novelty {
	c.t.Helper()
	return one(c, "NoveltyAdd", func(b *state.Batch) *state.Future[state.Novelty] {
		return b.NoveltyAdd(k, m, at, ttl)
	})
}

func noveltyRules() group {
	return group{name: "Novelty", rules: []rule{
		{"NewThenSeen", "NoveltyAdd is New the first time, not after; Size counts members before the add", noveltySeen},
		{"RetryHarmless", "adding the same member at the same time again is not New and adds nothing", noveltyRetry},
		{"RetryByIntroducer", "an add by the owner that made a member new is New again (a retry after a lost reply); other owners' adds are not", noveltyRetryByOwner},
		{"Forgotten", "members last seen before At-TTL are forgotten: New again, not in Size", noveltyForgotten},
		{"LatestTimeKept", "a member keeps the latest time it was seen", noveltyLatest},
	}}
}

func noveltySeen(c *check) {
	k := c.key("country")
	want := []struct {
		m string
		n state.Novelty
	}{{"DE", state.Novelty{New: true, Size: 0}}, {"FR", state.Novelty{New: true, Size: 1}}, {"DE", state.Novelty{New: false, Size: 2}}}
	for i, w := range want {
		if got := noveltyAdd(c, k, w.m, base.Add(time.Duration(i)*time.Minute), hour); got != w.n {
			c.errorf("add %d (%s) = %+v, want %+v", i, w.m, got, w.n)
		}
	}
}

func noveltyRetry(c *check) {
	k := c.key("country")
	var b state.Batch
	f1 := b.NoveltyAdd(k, "DE", base, hour)
	f2 := b.NoveltyAdd(k, "DE", base, hour)
	c.exec(&b)
	n1, n2 := get(c, "add", f1), get(c, "retry", f2)
	if n1 != (state.Novelty{New: true}) || n2 != (state.Novelty{New: false, Size: 1}) {
		c.errorf("add then retry = %+v, %+v, want {New:true Size:0}, {New:false Size:1}", n1, n2)
	}
	if got := noveltyAdd(c, k, "FR", base, hour); got != (state.Novelty{New: true, Size: 1}) {
		c.errorf("next member after a retry = %+v, want {New:true Size:1}", got)
	}
}

func noveltyRetryByOwner(c *check) {
	k := c.key("country")
	var b state.Batch
	b.NoveltyAddBy(k, "US", "evt-0", base, hour)
	first := b.NoveltyAddBy(k, "DE", "evt-1", base, hour)
	c.exec(&b)
	if got := get(c, "first add", first); got != (state.Novelty{New: true, Size: 1}) {
		c.errorf("first add = %+v, want {New:true Size:1}", got)
	}
	// The same event again, in a later batch: its reply may have been lost.
	var r state.Batch
	retry := r.NoveltyAddBy(k, "DE", "evt-1", base, hour)
	other := r.NoveltyAddBy(k, "DE", "evt-2", base.Add(time.Minute), hour)
	anon := r.NoveltyAdd(k, "DE", base.Add(time.Minute), hour)
	c.exec(&r)
	if got := get(c, "retry", retry); got != (state.Novelty{New: true, Size: 1}) {
		c.errorf("retry by the introducer = %+v, want {New:true Size:1} (the other members)", got)
	}
	if got := get(c, "other owner", other); got != (state.Novelty{New: false, Size: 2}) {
		c.errorf("another owner's add = %+v, want {New:false Size:2}", got)
	}
	if got := get(c, "no owner", anon); got != (state.Novelty{New: false, Size: 2}) {
		c.errorf("an add without owner = %+v, want {New:false Size:2}", got)
	}
}

func noveltyForgotten(c *check) {
	k := c.key("asn")
	noveltyAdd(c, k, "a", base, hour)
	later := base.Add(2 * time.Hour)
	if got := noveltyAdd(c, k, "b", later, hour); got != (state.Novelty{New: true, Size: 0}) {
		c.errorf("add after the only member aged out = %+v, want {New:true Size:0}", got)
	}
	if got := noveltyAdd(c, k, "a", later, hour); got != (state.Novelty{New: true, Size: 1}) {
		c.errorf("re-add of a forgotten member = %+v, want {New:true Size:1}", got)
	}
}

func noveltyLatest(c *check) {
	k := c.key("asn")
	noveltyAdd(c, k, "a", base.Add(50*time.Minute), hour)
	noveltyAdd(c, k, "a", base, hour) // late event: must not move a back
	at := base.Add(90 * time.Minute)
	if got := noveltyAdd(c, k, "a", at, hour); got.New || got.Size != 1 {
		c.errorf("add at +90m of a member last seen at +50m (TTL 1h) = %+v, want {New:false Size:1}", got)
	}
}

func windowAddRead(c *check) {
	k, twin := c.key("addread"), c.key("twin")
	s := span(base, base.Add(10*time.Minute))
	var b state.Batch
	var got []*state.Future[state.Window]
	var want []*state.Future[int]
	var wantRead []*state.Future[state.Window]
	for i, m := range []string{"ListUsers", "ListRoles", "ListUsers", "GetPolicy"} {
		at := base.Add(time.Duration(i) * time.Minute)
		got = append(got, b.WindowAddRead(k, m, at, s, 2, hour))
		want = append(want, b.WindowAdd(twin, m, at, s, hour))
		wantRead = append(wantRead, b.WindowRead(twin, s, 2))
	}
	old := b.WindowAddRead(k, "Old", base.Add(-2*hour), s, 2, hour) // outside the span: counted nowhere
	c.exec(&b)
	for i := range got {
		g := get(c, "WindowAddRead", got[i])
		n, w := get(c, "WindowAdd", want[i]), get(c, "WindowRead", wantRead[i])
		if g.Count != n || !slices.Equal(g.Members, w.Members) {
			c.errorf("add %d: WindowAddRead = %+v, want count %d members %v (WindowAdd then WindowRead)", i, g, n, w.Members)
		}
	}
	// ListRoles at 1m, ListUsers at 2m (its latest), GetPolicy at 3m.
	if g := get(c, "old", old); g.Count != 3 || !slices.Equal(g.Members, []string{"ListRoles", "ListUsers"}) {
		c.errorf("after an add outside the span: %+v, want count 3, members [ListRoles ListUsers]", g)
	}
}
