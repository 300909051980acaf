package redis_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// TestGroupViewsMatchMemory runs random batches of every kind of
// operation on the keys of one identity (one group script a batch) on real
// Redis and on the embedded store and wants every answer equal. Its sets
// grow past the size the group script reads whole (its views) and shrink
// again as members expire, so both the view and the command paths run, and
// a set crosses between them; members share scores often (whole minutes)
// and differ in bytes above 0x7f and in length, so the order a view keeps
// is held to the server's; marks and values are read and written several
// times a batch, as the string cache serves them.
func TestGroupViewsMatchMemory(t *testing.T) {
	s := newStore(t, redistest.StartServer(t).URL())
	m := memory.New(memory.WithSweepInterval(0))
	defer m.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	const ttl = 2 * time.Hour
	key := func(name string) state.Key { return state.Key{Tenant: "v", Identity: "id", Name: name} }
	windows := []state.Key{key("w1"), key("w2")}
	buckets := []state.Key{key("b1"), key("b2")}
	marks := []state.Key{key("m1"), key("m2")}
	member := func() string {
		switch rng.IntN(4) {
		case 0:
			return fmt.Sprintf("z\xe9%d", rng.IntN(20))
		case 1:
			return fmt.Sprintf("a%d", rng.IntN(20))
		default:
			return fmt.Sprintf("m%03d", rng.IntN(300))
		}
	}
	for round := range 300 {
		var rb, mb state.Batch
		var got, want []func() string
		// Early rounds add many members at once, to grow sets past a view.
		n := 1 + rng.IntN(12)
		if round%50 < 5 {
			n = 60
		}
		for range n {
			at := base.Add(time.Duration(round/3+rng.IntN(240)) * time.Minute)
			sp := state.Span{From: at.Add(-time.Duration(rng.IntN(200)) * time.Minute), To: at.Add(time.Duration(rng.IntN(30)) * time.Minute)}
			limit := rng.IntN(40)
			w, bk, mk := windows[rng.IntN(2)], buckets[rng.IntN(2)], marks[rng.IntN(2)]
			switch rng.IntN(10) {
			case 0:
				mem := member()
				got = append(got, show(rb.WindowAdd(w, mem, at, sp, ttl)))
				want = append(want, show(mb.WindowAdd(w, mem, at, sp, ttl)))
			case 1, 2:
				mem := member()
				got = append(got, show(rb.WindowAddRead(w, mem, at, sp, limit, ttl)))
				want = append(want, show(mb.WindowAddRead(w, mem, at, sp, limit, ttl)))
			case 3:
				got = append(got, show(rb.WindowRead(w, sp, limit)))
				want = append(want, show(mb.WindowRead(w, sp, limit)))
			case 4:
				mem, owner := member(), fmt.Sprint("evt-", at.Unix())
				nk := key("n" + w.Name)
				got = append(got, show(rb.NoveltyAddBy(nk, mem, owner, at, ttl)))
				want = append(want, show(mb.NoveltyAddBy(nk, mem, owner, at, ttl)))
			case 5:
				mem, hist := member(), rng.IntN(20)
				got = append(got, show(rb.BucketAdd(bk, mem, at, 10*time.Minute, hist, ttl)))
				want = append(want, show(mb.BucketAdd(bk, mem, at, 10*time.Minute, hist, ttl)))
			case 6:
				hist := rng.IntN(20)
				got = append(got, show(rb.BucketRead(bk, at, 10*time.Minute, hist)))
				want = append(want, show(mb.BucketRead(bk, at, 10*time.Minute, hist)))
			case 7:
				keep := state.Keep(rng.IntN(2))
				got = append(got, show(rb.Mark(mk, at, keep, ttl)))
				want = append(want, show(mb.Mark(mk, at, keep, ttl)))
			case 8:
				got = append(got, show(rb.ReadMark(mk)))
				want = append(want, show(mb.ReadMark(mk)))
			default:
				vk := key("value")
				if rng.IntN(2) == 0 {
					v := []byte(member())
					got = append(got, show(rb.Put(vk, v, ttl)))
					want = append(want, show(mb.Put(vk, v, ttl)))
				} else {
					got = append(got, show(rb.Get(vk)))
					want = append(want, show(mb.Get(vk)))
				}
			}
		}
		if err := s.Exec(ctx, &rb); err != nil {
			t.Fatal(err)
		}
		if err := m.Exec(ctx, &mb); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if g, w := got[i](), want[i](); g != w {
				t.Fatalf("round %d, op %d: Redis %s, memory %s", round, i, g, w)
			}
		}
	}
}

// TestGroupBucketRunsMatchMemory runs batches of several bucket adds and
// reads of one history on one key, as a busy identity's events of a
// batch do, on a key too big for a view: the group script answers the
// later ones from the history it counted for the first, plus what each
// add added, and skips drops it knows find nothing.
func TestGroupBucketRunsMatchMemory(t *testing.T) {
	s := newStore(t, redistest.StartServer(t).URL())
	m := memory.New(memory.WithSweepInterval(0))
	defer m.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	const width, ttl = 10 * time.Minute, 3 * time.Hour
	k := state.Key{Tenant: "v", Identity: "id", Name: "days"}
	for round := range 200 {
		var rb, mb state.Batch
		var got, want []func() string
		at := base.Add(time.Duration(round*3+rng.IntN(60)) * time.Minute)
		n := 2 + rng.IntN(6)
		if round%40 == 0 {
			n = 80 // fill past a view, across buckets
		}
		for j := range n {
			when := at
			if n == 80 || rng.IntN(8) == 0 {
				when = at.Add(-time.Duration(rng.IntN(200)) * time.Minute)
			}
			mem := fmt.Sprint("m", rng.IntN(30+j))
			if rng.IntN(5) == 0 {
				got = append(got, show(rb.BucketRead(k, when, width, 15)))
				want = append(want, show(mb.BucketRead(k, when, width, 15)))
				continue
			}
			got = append(got, show(rb.BucketAdd(k, mem, when, width, 15, ttl)))
			want = append(want, show(mb.BucketAdd(k, mem, when, width, 15, ttl)))
		}
		if err := s.Exec(ctx, &rb); err != nil {
			t.Fatal(err)
		}
		if err := m.Exec(ctx, &mb); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if g, w := got[i](), want[i](); g != w {
				t.Fatalf("round %d, op %d: Redis %s, memory %s", round, i, g, w)
			}
		}
	}
}
