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
	s, m := twinStores(t)
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
		var tw twins
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
				twin(&tw, tw.rb.WindowAdd(w, mem, at, sp, ttl), tw.mb.WindowAdd(w, mem, at, sp, ttl))
			case 1, 2:
				mem := member()
				twin(&tw, tw.rb.WindowAddRead(w, mem, at, sp, limit, ttl), tw.mb.WindowAddRead(w, mem, at, sp, limit, ttl))
			case 3:
				twin(&tw, tw.rb.WindowRead(w, sp, limit), tw.mb.WindowRead(w, sp, limit))
			case 4:
				mem, owner := member(), fmt.Sprint("evt-", at.Unix())
				nk := key("n" + w.Name)
				twin(&tw, tw.rb.NoveltyAddBy(nk, mem, owner, at, ttl), tw.mb.NoveltyAddBy(nk, mem, owner, at, ttl))
			case 5:
				mem, hist := member(), rng.IntN(20)
				twin(&tw, tw.rb.BucketAdd(bk, mem, at, 10*time.Minute, hist, ttl), tw.mb.BucketAdd(bk, mem, at, 10*time.Minute, hist, ttl))
			case 6:
				hist := rng.IntN(20)
				twin(&tw, tw.rb.BucketRead(bk, at, 10*time.Minute, hist), tw.mb.BucketRead(bk, at, 10*time.Minute, hist))
			case 7:
				keep := state.Keep(rng.IntN(2))
				twin(&tw, tw.rb.Mark(mk, at, keep, ttl), tw.mb.Mark(mk, at, keep, ttl))
			case 8:
				twin(&tw, tw.rb.ReadMark(mk), tw.mb.ReadMark(mk))
			default:
				vk := key("value")
				if rng.IntN(2) == 0 {
					v := []byte(member())
					twin(&tw, tw.rb.Put(vk, v, ttl), tw.mb.Put(vk, v, ttl))
				} else {
					twin(&tw, tw.rb.Get(vk), tw.mb.Get(vk))
				}
			}
		}
		tw.check(t, s, m, round)
	}
}

// TestGroupBucketRunsMatchMemory runs batches of several bucket adds and
// reads of one history on one key, as a busy identity's events of a
// batch do, on a key too big for a view: the group script answers the
// later ones from the history it counted for the first, plus what each
// add added, and skips drops it knows find nothing.
func TestGroupBucketRunsMatchMemory(t *testing.T) {
	s, m := twinStores(t)
	rng := rand.New(rand.NewPCG(5, 6))
	const width, ttl = 10 * time.Minute, 3 * time.Hour
	k := state.Key{Tenant: "v", Identity: "id", Name: "days"}
	for round := range 200 {
		var tw twins
		at := base.Add(time.Duration(round*3+rng.IntN(60)) * time.Minute)
		n := 2 + rng.IntN(6)
		if round%40 == 0 {
			n = 200 // fill past a view, across buckets
		}
		for j := range n {
			when := at
			if n == 200 || rng.IntN(8) == 0 {
				when = at.Add(-time.Duration(rng.IntN(200)) * time.Minute)
			}
			mem := fmt.Sprint("m", rng.IntN(30+j))
			if rng.IntN(5) == 0 {
				twin(&tw, tw.rb.BucketRead(k, when, width, 15), tw.mb.BucketRead(k, when, width, 15))
				continue
			}
			twin(&tw, tw.rb.BucketAdd(k, mem, when, width, 15, ttl), tw.mb.BucketAdd(k, mem, when, width, 15, ttl))
		}
		tw.check(t, s, m, round)
	}
}

// twinStores returns a Store on a fresh redis-server and an embedded one.
func twinStores(t *testing.T) (state.Store, state.Store) {
	s := newStore(t, redistest.StartServer(t).URL())
	m := memory.New(memory.WithSweepInterval(0))
	t.Cleanup(func() { m.Close() })
	return s, m
}

// twins holds the same operations queued on a batch for Redis (rb) and
// one for the embedded store (mb), and their answers.
type twins struct {
	rb, mb    state.Batch
	got, want []func() string
}

// twin records the futures of one operation queued on both batches.
func twin[T any](tw *twins, r, m *state.Future[T]) {
	tw.got = append(tw.got, show(r))
	tw.want = append(tw.want, show(m))
}

// check runs both batches and wants every answer of Redis equal to the
// embedded store's.
func (tw *twins) check(t *testing.T, s, m state.Store, round int) {
	t.Helper()
	ctx := context.Background()
	if err := s.Exec(ctx, &tw.rb); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec(ctx, &tw.mb); err != nil {
		t.Fatal(err)
	}
	for i := range tw.got {
		if g, w := tw.got[i](), tw.want[i](); g != w {
			t.Fatalf("round %d, op %d: Redis %s, memory %s", round, i, g, w)
		}
	}
}
