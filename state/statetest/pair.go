package statetest

import (
	"slices"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

func pairRules() group {
	return group{name: "WindowPair", rules: []rule{
		{"AddReadEach", "WindowPairAddRead is WindowAddRead on each half: the same windows as two keys given the same adds", pairAddReadEach},
		{"HalvesApart", "a member added to one half of a pair is not in the other", pairHalvesApart},
		{"BadTTL", "WindowPairAddRead without a positive TTL fails on its future and changes nothing", pairBadTTL},
		{"Expires", "a window pair disappears TTL after its last write", pairExpires},
	}}
}

func pairAdd(c *check, k state.Key, members [2]string, at time.Time, spans [2]state.Span, limit int, ttl time.Duration) [2]state.Window {
	c.t.Helper()
	return one(c, "WindowPairAddRead", func(b *state.Batch) *state.Future[[2]state.Window] {
		return b.WindowPairAddRead(k, members, at, spans, limit, ttl)
	})
}

// pairAddReadEach adds as access-key-enumeration does (each member to both
// halves, tagged per half, over spans of their own; a late member; a member
// old enough to trim the others), in one batch and across batches, and
// compares every answer with WindowAddReads of two keys.
func pairAddReadEach(c *check) {
	k, twins := c.key("pair"), [2]state.Key{c.key("half0"), c.key("half1")}
	spans := [2]state.Span{span(base, base.Add(20*time.Minute)), span(base.Add(10*time.Minute), base.Add(30*time.Minute))}
	type add struct {
		m  string
		at time.Duration
	}
	batches := [][]add{
		{{"ListUsers", 0}, {"ListRoles", 12 * time.Minute}, {"ListUsers", 14 * time.Minute}},
		{{"GetPolicy", 25 * time.Minute}, {"ListRoles", 5 * time.Minute}}, // the second one late
		{{"Describe", 31 * time.Minute}},                                  // outside both spans
		{{"ListKeys", 75 * time.Minute}},                                  // TTL 1h: trims what is older than 15m
	}
	for i, adds := range batches {
		var b state.Batch
		var got []*state.Future[[2]state.Window]
		var want [][2]*state.Future[state.Window]
		for _, a := range adds {
			ms := [2]string{"0" + a.m, "1" + a.m}
			at := base.Add(a.at)
			got = append(got, b.WindowPairAddRead(k, ms, at, spans, 2, hour))
			var w [2]*state.Future[state.Window]
			for h := range w {
				w[h] = b.WindowAddRead(twins[h], ms[h], at, spans[h], 2, hour)
			}
			want = append(want, w)
		}
		c.exec(&b)
		for j := range got {
			g := get(c, "WindowPairAddRead", got[j])
			for h := range g {
				w := get(c, "WindowAddRead", want[j][h])
				if g[h].Count != w.Count || !slices.Equal(g[h].Members, w.Members) {
					c.errorf("batch %d add %d (%s): half %d = %+v, want %+v (WindowAddRead)", i, j, adds[j].m, h, g[h], w)
				}
			}
		}
	}
}

func pairHalvesApart(c *check) {
	k := c.key("pair")
	s := span(base, base.Add(time.Hour))
	spans := [2]state.Span{s, s}
	pairAdd(c, k, [2]string{"a", "b"}, base, spans, 5, hour)
	got := pairAdd(c, k, [2]string{"c", "b"}, base.Add(time.Minute), spans, 5, hour)
	if !slices.Equal(got[0].Members, []string{"a", "c"}) || got[0].Count != 2 {
		c.errorf("half 0 = %+v, want count 2 members [a c]", got[0])
	}
	if !slices.Equal(got[1].Members, []string{"b"}) || got[1].Count != 1 {
		c.errorf("half 1 = %+v, want count 1 members [b] (b again, at its latest time)", got[1])
	}
}

func pairBadTTL(c *check) {
	k := c.key("pair")
	s := span(base, base.Add(time.Hour))
	var b state.Batch
	bad := b.WindowPairAddRead(k, [2]string{"x", "y"}, base, [2]state.Span{s, s}, 5, 0)
	if err := c.tryExec(&b); err != nil {
		c.errorf("Exec with one bad operation returned %v, want nil (the error belongs on the future)", err)
	}
	if _, err := bad.Get(); err == nil {
		c.errorf("WindowPairAddRead with TTL 0 succeeded, want an error on its future")
	}
	if got := pairAdd(c, k, [2]string{"a", "b"}, base, [2]state.Span{s, s}, 5, hour); got[0].Count != 1 || got[1].Count != 1 {
		c.errorf("after a refused add: %+v, want one member in each half", got)
	}
}

func pairExpires(c *check) {
	k := c.key("pair")
	s := span(base, base.Add(time.Hour))
	spans := [2]state.Span{s, s}
	pairAdd(c, k, [2]string{"a", "b"}, base, spans, 5, shortTTL)
	// No read-only operation reads a pair: a marker written after it
	// with the same TTL stands in (see waitGone).
	waitGone(c, k, shortTTL, nil)
	if got := pairAdd(c, k, [2]string{"c", "d"}, base, spans, 5, hour); got[0].Count != 1 || got[1].Count != 1 {
		c.errorf("add after expiry = %+v, want only the new member in each half", got)
	}
}
