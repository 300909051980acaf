package redis_test

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
	"github.com/iamsentry/iamsentry/state/redis"
)

// orgRush is the shape of the 5k events/s tail on Redis: an organisation-
// wide novelty set and window per network (assume-role-unexpected-source's
// assume-src:people and assume-src:people-days), one member per person and
// day, that nearly every AssumeRole of a morning rush adds to.
type orgRush struct {
	base time.Time
}

// batch queues on b the operations of the sign-ins of people from..to-1 on
// day, and returns readers of their answers.
func (o orgRush) batch(b *state.Batch, day, from, to int) []func() any {
	k := func(name string) state.Key {
		return state.Key{Tenant: "t", Identity: "assume-src:org:192.0.0.0/16", Name: name}
	}
	var out []func() any
	for p := from; p < to; p++ {
		at := o.base.Add(time.Duration(day)*24*time.Hour + time.Duration(p)*time.Second)
		who := fmt.Sprintf("arn:aws:iam::123456789012:user/person-%04d", p)
		n := b.NoveltyAddBy(k("people"), who, fmt.Sprint("event-", day, "-", p), at, 30*24*time.Hour)
		w := b.WindowAddRead(k("people-days"), who+"|"+at.Format("2006-01-02"), at,
			state.Span{From: at.Add(-30 * 24 * time.Hour), To: at}, 20, 30*24*time.Hour)
		out = append(out, func() any { return fmt.Sprint(n.Get()) }, func() any { return fmt.Sprint(w.Get()) })
	}
	return out
}

// exec runs on s, in one batch, the sign-ins of people from..to-1 on day
// and returns readers of their answers.
func (o orgRush) exec(t *testing.T, s state.Store, day, from, to int) []func() any {
	t.Helper()
	var b state.Batch
	read := o.batch(&b, day, from, to)
	if err := s.Exec(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return read
}

// TestSideLogOrgRush: once the organisation's novelty set and window are
// side records of tens of KB, a batch that adds one member sends Redis
// about that member (bytes in per batch a small fraction of the side
// records, where a whole rewrite sends all of them), through two replicas
// whose caches go stale under each other's appends; every answer is the
// memory store's, and the side records left are exactly those named.
func TestSideLogOrgRush(t *testing.T) {
	srv := redistest.StartServer(t)
	const prefix = "rush:"
	url := srv.URL() + "?layout=record&prefix=" + prefix
	replicas := []*redis.Store{newStore(t, url), newStore(t, url)}
	mem := memory.New(memory.WithSweepInterval(0))
	t.Cleanup(func() { mem.Close() })
	rush := orgRush{base: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	run := func(s state.Store, day, from, to int) []any {
		read := rush.exec(t, s, day, from, to)
		out := make([]any, len(read))
		for i, f := range read {
			out[i] = f()
		}
		return out
	}
	step := 0
	both := func(day, from, to int) {
		m, r := run(mem, day, from, to), run(replicas[step%2], day, from, to)
		step++
		if !reflect.DeepEqual(m, r) {
			t.Fatalf("day %d, people %d-%d: memory answered %v, record layout %v", day, from, to, m, r)
		}
	}
	const people = 400
	for day := range 3 { // three days of everyone: ~1,200 window members
		for p := 0; p < people; p += 100 {
			both(day, p, p+100)
		}
	}
	admin := srv.Client()
	before := inputBytes(t, admin)
	const rushBatches = 60
	for p := range rushBatches { // the fourth day's rush, one sign-in a batch
		both(3, p, p+1)
	}
	perBatch := (inputBytes(t, admin) - before) / rushBatches
	largest := largestSide(t, admin, prefix)
	t.Logf("Redis bytes in per one-member batch: %d; largest side record %d B", perBatch, largest)
	if largest < 16<<10 {
		t.Fatalf("largest side record %d B: the test does not reach large entries", largest)
	}
	if perBatch > int64(largest)/8 {
		t.Errorf("%d bytes in per batch adding one member to side records of up to %d B: want the member, not the set", perBatch, largest)
	}
	var appends int64
	for _, r := range replicas {
		appends += r.RecordStats().SideAppends
	}
	if appends < rushBatches {
		t.Errorf("%d side appends in %d batches each adding to two large entries", appends, rushBatches)
	}
	sideKeysAllNamed(t, srv, prefix)
}

func inputBytes(t *testing.T, c *goredis.Client) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_net_input_bytes:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("INFO stats has no total_net_input_bytes")
	return 0
}

// largestSide returns the STRLEN of the largest side record under prefix.
func largestSide(t *testing.T, c *goredis.Client, prefix string) int {
	t.Helper()
	ctx := context.Background()
	largest := 0
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if k := iter.Val(); !strings.HasSuffix(k, "}:rec") {
			largest = max(largest, int(c.StrLen(ctx, k).Val()))
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return largest
}

// TestSideLogSideGone: a side record that vanished under its record (an
// eviction, or an expiry the replica's clock had not reached) is not
// appended to, which would leave a side record holding only a segment: the
// write is refused as a version mismatch, the replica reads the record
// again, finds the side record gone and starts the entry afresh.
func TestSideLogSideGone(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	const prefix = "gone:"
	s := newStore(t, srv.URL()+"?layout=record&prefix="+prefix)
	rush := orgRush{base: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	exec := func(day, from, to int) []func() any { return rush.exec(t, s, day, from, to) }
	exec(0, 0, 200)
	admin := srv.Client()
	var sides []string
	iter := admin.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if k := iter.Val(); !strings.HasSuffix(k, "}:rec") {
			sides = append(sides, k)
		}
	}
	if len(sides) != 2 {
		t.Fatalf("%d side records, want the novelty set's and the window's", len(sides))
	}
	admin.Del(ctx, sides...)
	read := exec(1, 0, 1) // person 0 the next day, on a replica whose cache holds both entries
	if got := read[0](); !strings.HasPrefix(got.(string), "{true 0}") {
		t.Errorf("person 0 after the novelty set's side record vanished: %v, want new in an empty set", got)
	}
	if st := s.RecordStats(); st.Conflicts == 0 {
		t.Errorf("%+v: want the write refused once", st)
	}
	exec(1, 1, 2)
	for _, k := range sides {
		if n := admin.Exists(ctx, k).Val(); n != 0 {
			t.Errorf("side record %s, deleted, was written again by an append", k)
		}
	}
	if n := largestSide(t, admin, prefix); n != 0 {
		t.Errorf("a side record of %d B after the entries began again with two members: want them in their record", n)
	}
}
