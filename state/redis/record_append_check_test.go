package redis_test

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state/redis"
)

// TestSideAppendChecksByAppend: casScript checks that a side record a
// write appends to still exists by the length its APPEND answers, not by
// an EXISTS before it. Whichever of an identity's two appended side records
// vanished under its record, the write is refused as a version mismatch,
// the vanished key is not left holding a bare segment, the other grows
// as it does where nothing vanished, the replica reads the record again
// and the entry starts afresh; and a write appending to both sends no
// EXISTS.
func TestSideAppendChecksByAppend(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	admin := srv.Client()
	grew := map[int]map[string]int64{} // by victim (-1: none), the survivors' growth by entry
	for victim := -1; victim < 2; victim++ {
		prefix := "appchk" + string(rune('b'+victim)) + ":"
		s := newStore(t, srv.URL()+"?layout=record&prefix="+prefix)
		rush := orgRush{base: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
		exec := func(day, from, to int) []func() any { return rush.exec(t, s, day, from, to) }
		exec(0, 0, 200)
		before := srv.CommandStats(ctx)
		exec(0, 200, 201) // appends one member to both side records
		after := srv.CommandStats(ctx)
		if n := after["append"] - before["append"]; n != 2 {
			t.Fatalf("victim %d: %d APPENDs adding one member to two large entries, want 2", victim, n)
		}
		if n := after["exists"] - before["exists"]; n != 0 {
			t.Errorf("victim %d: %d EXISTS for a write appending to two side records, want 0 (each is checked by its APPEND)", victim, n)
		}
		sides := map[string]string{} // entry → key
		iter := admin.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if k := iter.Val(); !strings.HasSuffix(k, "}:rec") {
				sides[k[strings.Index(k, "}:"):strings.LastIndexByte(k, 'v')]] = k
			}
		}
		if len(sides) != 2 {
			t.Fatalf("victim %d: %d side records, want the novelty set's and the window's", victim, len(sides))
		}
		entries := slices.Sorted(maps.Keys(sides))
		lens := map[string]int64{}
		for _, e := range entries {
			lens[e] = admin.StrLen(ctx, sides[e]).Val()
		}
		if victim >= 0 {
			admin.Del(ctx, sides[entries[victim]])
		}
		conflicts := s.RecordStats().Conflicts
		exec(1, 0, 1)
		grew[victim] = map[string]int64{}
		for i, e := range entries {
			if i != victim {
				grew[victim][e] = admin.StrLen(ctx, sides[e]).Val() - lens[e]
			}
		}
		if victim < 0 {
			continue
		}
		if st := s.RecordStats(); st.Conflicts == conflicts {
			t.Errorf("victim %d: %+v: want the write refused once", victim, st)
		}
		if n := admin.Exists(ctx, sides[entries[victim]]).Val(); n != 0 {
			t.Errorf("victim %d: side record %s, deleted, was written again by an append", victim, sides[entries[victim]])
		}
		for e, n := range grew[victim] {
			if want := grew[-1][e]; n != want {
				t.Errorf("victim %d: side record of %s grew by %d B, where nothing vanished by %d B: the refused append was not undone", victim, e, n, want)
			}
		}
		exec(1, 1, 2) // the record decodes and takes writes again
		sideKeysAllNamed(t, srv, prefix)
	}
}

// TestCASAppendUndo calls casScript directly on a record with two side
// records to append to, one of them missing, in both orders: the write is
// refused with the record's bytes, the missing one is not created, and the
// one appended to first is cut back to its bytes before, its expiry kept.
// With both present, both are appended to and no EXISTS runs.
func TestCASAppendUndo(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	admin := srv.Client()
	sha, src := redis.CASScript()
	if err := admin.ScriptLoad(ctx, src).Err(); err != nil {
		t.Fatal(err)
	}
	const ver, rec = "VVVVVVVV", "VVVVVVVVrecord"
	for _, tc := range []struct {
		name    string
		missing int // index among the two side records; -1: none
	}{{"none missing", -1}, {"first missing", 0}, {"second missing", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			tag := "{cas:" + strings.ReplaceAll(tc.name, " ", "-") + "}"
			keys := []string{tag + ":rec", tag + ":rec:s1", tag + ":rec:s2"}
			admin.Set(ctx, keys[0], rec, time.Hour)
			for i, k := range keys[1:] {
				if i != tc.missing {
					admin.Set(ctx, k, "side"+k, time.Hour)
				}
			}
			before := srv.CommandStats(ctx)
			// One record: 3 KEYS, 0 old, 2 to append to, its version,
			// nothing to write (a check), then per side record its
			// segment and "0" (expiry kept).
			got, err := admin.EvalSha(ctx, sha, keys, 1, 3, 0, 2, ver, "", 0, "", "+a", "0", "+b", "0").Result()
			if err != nil {
				t.Fatal(err)
			}
			if n := srv.CommandStats(ctx)["exists"] - before["exists"]; n != 0 {
				t.Errorf("%d EXISTS, want none: each side record is checked by its APPEND", n)
			}
			want := []any{int64(1)}
			if tc.missing >= 0 {
				want = []any{[]any{int64(0), rec}}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("reply %v, want %v", got, want)
			}
			for i, k := range keys[1:] {
				v, err := admin.Get(ctx, k).Result()
				switch {
				case i == tc.missing:
					if err == nil {
						t.Errorf("missing side record %s created holding %q", k, v)
					}
				case tc.missing < 0:
					if want := "side" + k + []string{"+a", "+b"}[i]; v != want {
						t.Errorf("side record %s = %q, want %q", k, v, want)
					}
				default:
					if want := "side" + k; v != want {
						t.Errorf("side record %s = %q after the refused write, want %q as before", k, v, want)
					}
					if ttl := admin.PTTL(ctx, k).Val(); ttl <= 0 {
						t.Errorf("side record %s lost its expiry (PTTL %v)", k, ttl)
					}
				}
			}
		})
	}
}
