package redis_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// TestGroupMatchesMemory runs random batches of window and novelty
// operations (novelty with retrying owners) on a few keys of one identity (so each batch is one group
// script) on real Redis and on the embedded store, with times out of order
// and some older than the TTL, and wants every answer equal. It holds the
// group script's deferred dropping of old window members to the contract.
func TestGroupMatchesMemory(t *testing.T) {
	s := newStore(t, redistest.StartServer(t).URL())
	m := memory.New(memory.WithSweepInterval(0))
	defer m.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	const ttl = time.Hour
	keys := []state.Key{{Tenant: "g", Identity: "id", Name: "w1"}, {Tenant: "g", Identity: "id", Name: "w2"}}
	members := []string{"a", "b", "c", "d", "e"}
	for round := range 400 {
		var rb, mb state.Batch
		var got, want []func() string
		for range 1 + rng.IntN(8) {
			k := keys[rng.IntN(len(keys))]
			at := base.Add(time.Duration(rng.IntN(180)) * time.Minute)
			mem := members[rng.IntN(len(members))]
			sp := state.Span{From: at.Add(-time.Duration(rng.IntN(150)) * time.Minute), To: at}
			switch rng.IntN(4) {
			case 3:
				nk := state.Key{Tenant: "g", Identity: "id", Name: "nov"}
				// An owner is an event: it adds at its own time.
				owner := fmt.Sprint("evt-", at.Unix())
				got = append(got, show(rb.NoveltyAddBy(nk, mem, owner, at, ttl)))
				want = append(want, show(mb.NoveltyAddBy(nk, mem, owner, at, ttl)))
			case 0:
				got = append(got, show(rb.WindowAdd(k, mem, at, sp, ttl)))
				want = append(want, show(mb.WindowAdd(k, mem, at, sp, ttl)))
			case 1:
				got = append(got, show(rb.WindowAddRead(k, mem, at, sp, 3, ttl)))
				want = append(want, show(mb.WindowAddRead(k, mem, at, sp, 3, ttl)))
			default:
				got = append(got, show(rb.WindowRead(k, sp, 3)))
				want = append(want, show(mb.WindowRead(k, sp, 3)))
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

func show[T any](f *state.Future[T]) func() string {
	return func() string {
		v, err := f.Get()
		if w, ok := any(v).(state.Window); ok {
			w.Members = slices.Clone(w.Members)
			return fmt.Sprint(w, err)
		}
		return fmt.Sprint(v, err)
	}
}
