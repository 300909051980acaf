package record

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// TestSideLogReplayExact: after every write of a run of adds and trims
// (times out of order, members recurring, introductions forgotten), the
// side records as stored (a whole write and the segments appended since)
// and the record (a log whose segments hold deltas of its small windows,
// novelty sets and buckets) decode to entries equal to the writer's,
// member for member and in the same order: a replay gives what the writer
// held, not only the same answers.
func TestSideLogReplayExact(t *testing.T) {
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	wall := base.Add(time.Hour).UnixNano()
	r := &Record{}
	sides := map[string][]byte{}
	var main []byte
	appends, deltas := 0, 0
	for i := range 500 {
		wall += int64(150 * time.Second)
		at := base.Add(time.Duration(i) * 6 * time.Minute)
		if i%7 == 3 {
			at = at.Add(-45 * time.Minute)
		}
		k := func(n string) state.Key { return state.Key{Tenant: "t", Identity: "org", Name: n} }
		member := fmt.Sprintf("person-%03d|%s", (i*37)%400, at.Format("01-02"))
		ops := []state.Op{
			&state.WindowAddOp{Key: k("w"), Member: member, At: at, Count: state.Span{From: at, To: at}, TTL: 20 * time.Hour},
			&state.NoveltyAddOp{Key: k("n"), Member: fmt.Sprint("person-", (i*37)%400%120), Owner: fmt.Sprint("o", i%4), At: at, TTL: 20 * time.Hour},
			&state.BucketAddOp{Key: k("b"), Member: member, At: at, Width: 30 * time.Minute, History: 4, TTL: 20 * time.Hour},
			// Small ones, kept in the record by a short TTL.
			&state.WindowAddOp{Key: k("iw"), Member: member[:10], At: at, Count: state.Span{From: at, To: at}, TTL: 50 * time.Minute},
			&state.NoveltyAddOp{Key: k("in"), Member: member[:10], At: at, TTL: 50 * time.Minute},
			&state.BucketAddOp{Key: k("ib"), Member: member, At: at, Width: 10 * time.Minute, History: 4, TTL: 50 * time.Minute},
			&state.PutOp{Key: k(fmt.Sprint("v", i%40)), Value: []byte("a value of some thirty bytes.."), TTL: 20 * time.Hour},
		}
		for _, op := range ops {
			if res, _ := r.Apply(op, wall); res.Err() != nil {
				t.Fatal(res.Err())
			}
		}
		v := [VersionSize]byte{byte(i), byte(i >> 8)}
		w := r.EncodeWrite(v, wall)
		if w.Append {
			copy(main, v[:])
			if w.Format != 0 {
				main[VersionSize] = w.Format
				deltas++
			}
			main = append(main, w.Data...)
		} else {
			main = append([]byte(nil), w.Data...)
		}
		for _, sd := range w.Sides {
			if sd.Append {
				sides[sd.Suffix] = append(sides[sd.Suffix], sd.Data...)
				appends++
			} else if sd.Data != nil {
				sides[sd.Suffix] = append([]byte(nil), sd.Data...)
			}
			if sd.Old != "" {
				delete(sides, sd.Old)
			}
		}
		got, err := Decode(main, wall)
		if err != nil {
			t.Fatal(err)
		}
		if f := main[VersionSize]; f != formatLog && f != formatLogOps && i > 10 {
			t.Fatalf("step %d: record in format %d, want the log format", i, f)
		}
		for _, n := range got.NeedsNamed([]uint64{Digest("w"), Digest("n"), Digest("b"), Digest("iw"), Digest("in"), Digest("ib")}, wall) {
			if ok, err := got.Attach(n, sides[n.Suffix], wall); !ok || err != nil {
				t.Fatalf("step %d: Attach(%s): %v %v", i, n.Suffix, ok, err)
			}
		}
		for _, name := range []string{"w", "n", "b", "iw", "in", "ib"} {
			want, have := r.entries[r.find(Digest(name))], got.entries[got.find(Digest(name))]
			if !sameContent(want, have) {
				t.Fatalf("step %d: entry %s as stored differs from the writer's:\nwriter %+v\nstored %+v", i, name, content(want), content(have))
			}
		}
	}
	for _, name := range []string{"w", "n", "b"} {
		if e := r.entries[r.find(Digest(name))]; !e.side {
			t.Errorf("entry %s is not in a side record: the run does not reach it", name)
		}
	}
	for _, name := range []string{"iw", "in", "ib"} {
		if e := r.entries[r.find(Digest(name))]; e.side {
			t.Errorf("entry %s is in a side record: the run does not reach deltas", name)
		}
	}
	if deltas < 100 {
		t.Errorf("%d segments with deltas in 500 steps", deltas)
	}
	if appends < 500 {
		t.Fatalf("%d appends in 500 steps of 3 large entries: the run does not reach the side log", appends)
	}
}

func content(e *entry) []any {
	return []any{e.name, e.kind, e.expires, e.window, e.novelty, e.intros, e.buckets}
}

// sameContent compares what two entries hold, empty and nil alike.
func sameContent(a, b *entry) bool {
	ca, cb := content(a), content(b)
	for i := range ca {
		if reflect.ValueOf(ca[i]).Kind() == reflect.Slice && reflect.ValueOf(ca[i]).Len() == 0 && reflect.ValueOf(cb[i]).Len() == 0 {
			continue
		}
		if !reflect.DeepEqual(ca[i], cb[i]) {
			return false
		}
	}
	return true
}
