package redis_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// TestGroupMixedKindsMatchMemory queues puts and gets on the same value
// keys in one batch, so kinds alternate on a key and the group script must
// settle between them (forget a cached value), and marks and mark reads on
// mark keys, which share one kind and skip settling, and wants every
// answer equal to the embedded store's.
func TestGroupMixedKindsMatchMemory(t *testing.T) {
	s, m := twinStores(t)
	rng := rand.New(rand.NewPCG(5, 6))
	const ttl = time.Hour
	values := []state.Key{{Tenant: "x", Identity: "id", Name: "v1"}, {Tenant: "x", Identity: "id", Name: "v2"}}
	marks := []state.Key{{Tenant: "x", Identity: "id", Name: "m1"}, {Tenant: "x", Identity: "id", Name: "m2"}}
	for round := range 200 {
		var tw twins
		for range 1 + rng.IntN(10) {
			k, mk := values[rng.IntN(len(values))], marks[rng.IntN(len(marks))]
			at := base.Add(time.Duration(rng.IntN(1000)) * time.Second)
			switch rng.IntN(4) {
			case 0:
				v := fmt.Appendf(nil, "v%d", rng.IntN(100))
				twin(&tw, tw.rb.Put(k, v, ttl), tw.mb.Put(k, v, ttl))
			case 1:
				twin(&tw, tw.rb.Get(k), tw.mb.Get(k))
			case 2:
				keep := state.Keep(rng.IntN(2))
				twin(&tw, tw.rb.Mark(mk, at, keep, ttl), tw.mb.Mark(mk, at, keep, ttl))
			default:
				twin(&tw, tw.rb.ReadMark(mk), tw.mb.ReadMark(mk))
			}
		}
		tw.check(t, s, m, round)
	}
}
