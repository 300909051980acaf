package record

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// TestTallyMatchesACount: after every write of a log-format record (claims
// piling up, values rewritten with shorter and longer TTLs, marks and
// windows refreshed, entries expiring as the clock moves, once stepping
// back), the tally encodeSegment kept from write to write holds the live
// bytes, latest expiry and size a count over every entry gives; and after
// a whole write, so does the size Encode kept.
func TestTallyMatchesACount(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	wall := base.UnixNano()
	k := func(n string) state.Key { return state.Key{Tenant: "t", Identity: "p", Name: n} }
	r := &Record{}
	appends, kept, counts := 0, 0, 0
	for i := range 3000 {
		wall += int64(time.Duration(rng.IntN(90)) * time.Second)
		if i == 1500 {
			wall -= int64(10 * time.Minute) // a clock stepped back
		}
		at := base.Add(time.Duration(i) * time.Minute)
		ttl := time.Duration(300+rng.IntN(300)) * time.Minute
		ops := []state.Op{
			&state.ClaimOp{Key: k(fmt.Sprint("event-", i)), Value: []byte("verdict"), TTL: time.Duration(1+rng.IntN(20)) * time.Hour},
			&state.PutOp{Key: k(fmt.Sprint("v", rng.IntN(20))), Value: []byte("a value"), TTL: ttl},
			&state.MarkOp{Key: k(fmt.Sprint("m", rng.IntN(3))), At: at, TTL: time.Duration(300+rng.IntN(900)) * time.Minute}, // a TTL shorter than the last: the latest expiry falls
			&state.WindowAddOp{Key: k("w"), Member: fmt.Sprint("member-", rng.IntN(30)), At: at, Count: state.Span{From: at, To: at}, TTL: 3 * time.Hour},
		}
		for _, op := range ops[:1+rng.IntN(len(ops))] {
			if res, _ := r.Apply(op, wall); res.Err() != nil {
				t.Fatal(res.Err())
			}
		}
		w := r.EncodeWrite([VersionSize]byte{byte(i)}, wall)
		if whole := 0; !w.Append {
			// Written whole, Size's figure is summed as it encodes.
			for _, e := range r.entries {
				whole += e.size
			}
			if !r.sized || r.Size() != whole {
				t.Fatalf("write %d, whole: Size %d (kept: %v); a count gives %d", i, r.Size(), r.sized, whole)
			}
			continue
		}
		appends++
		if r.tally.counts == counts {
			kept++
		}
		counts = r.tally.counts
		live, size, last := VersionSize+1+binary.MaxVarintLen32, 0, int64(0)
		for _, e := range r.entries {
			size += e.size
			switch {
			case e.kind == 0 || e.expires <= wall:
				continue
			case e.side:
				live += e.stubLen()
			default:
				live += e.size
			}
			last = max(last, e.expires)
		}
		if got := r.tally; got.live != live || got.size != size || got.last != last {
			t.Fatalf("write %d: tally live %d, size %d, last %d; a count gives %d, %d, %d", i, got.live, got.size, got.last, live, size, last)
		}
	}
	t.Logf("%d appends, %d of them on a tally kept from an earlier write", appends, kept)
	if appends == 0 || kept == 0 {
		t.Fatal("the tally went unexercised")
	}
}
