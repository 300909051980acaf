package memory

import (
	"fmt"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// TestAccountedBytesMatchCosts runs writes of every kind that grow, move,
// trim and repeat members, and checks that each group's accounted bytes
// are still the cost of the group and its entries, and each shard's the
// sum of its groups' and claims': writes that skip costing an entry (see
// edit.doneIf) must skip only those that change nothing.
func TestAccountedBytesMatchCosts(t *testing.T) {
	s := New(WithSweepInterval(0), WithMaxBytes(0))
	defer s.Close()
	start := time.Date(2024, 9, 1, 12, 0, 0, 0, time.UTC)
	for round := range 40 {
		exec(t, s, func(b *state.Batch) {
			for i := range 50 {
				at := start.Add(time.Duration(round*50+i) * 7 * time.Second)
				k := func(name string) state.Key {
					return state.Key{Tenant: "acme", Identity: fmt.Sprintf("user%d", i%7), Name: name}
				}
				span := state.Span{From: at.Add(-time.Minute), To: at}
				member := fmt.Sprintf("m%d", (round*i)%13)
				b.WindowAdd(k("w"), member, at, span, 5*time.Minute)
				// New members, whose text chunks trims let go, and the
				// latest seen again later, which trims alone.
				fresh := fmt.Sprintf("a-longer-member-%d-%d", round, i)
				b.WindowAddRead(k("wr"), fresh, at, span, 3, 2*time.Minute)
				b.WindowAddRead(k("wr"), fresh, at.Add(30*time.Second), span, 3, 2*time.Minute)
				// A pair grows and trims each half apart.
				b.WindowPairAddRead(k("pair"), [2]string{fresh, member}, at, [2]state.Span{span, span}, 3, 2*time.Minute)
				b.Mark(k("mark"), at, state.KeepEarliest, time.Hour)
				b.NoveltyAddBy(k("novel"), member, fmt.Sprint("owner", i), at, 10*time.Minute)
				b.BucketAdd(k("buckets"), member, at, time.Minute, 5, 10*time.Minute)
				b.Claim(state.Key{Tenant: "acme", Identity: fmt.Sprintf("event:%d:%d", round, i), Name: "verdict"}, nil, time.Hour)
			}
		})
		for i := range s.shards {
			sh := &s.shards[i]
			want := int64(0)
			sh.claims.each(func(c *claim) { want += c.cost() })
			for _, g := range sh.ids {
				for ; g != nil; g = g.chain {
					gw := g.cost()
					for _, e := range g.entries {
						gw += e.cost()
					}
					if g.bytes != gw {
						t.Fatalf("round %d: group %s accounted %d bytes, costs %d", round, g.key.identity, g.bytes, gw)
					}
					want += gw
				}
			}
			if sh.bytes != want {
				t.Fatalf("round %d: shard %d accounted %d bytes, its groups and claims cost %d", round, i, sh.bytes, want)
			}
		}
	}
}
