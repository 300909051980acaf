package redis_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
	"github.com/iamsentry/iamsentry/state/redis"
)

// TestRecordLayoutMatchesMemory runs one random sequence of batches on the
// memory store and, alternating between two replicas, on the record
// layout, and requires every answer to be the same. Members are long
// enough that windows and buckets outgrow SideThreshold and move to side
// records, and the replicas' caches go stale under each other's writes, so
// conflicts, side reads and re-reads are all exercised. Then the side
// records left in Redis must be exactly those the records name.
func TestRecordLayoutMatchesMemory(t *testing.T) {
	srv := redistest.StartServer(t)
	for _, c := range recordRuns {
		t.Run(c.name, func(t *testing.T) {
			prefix := "diff-" + c.name + ":"
			matchMemory(t, srv.URL()+"?layout=record&prefix="+prefix, c.rounds, c.names, c.members)
			sideKeysAllNamed(t, srv, prefix)
		})
	}
}

// recordRuns are the random runs of the record layout's tests: how many
// batches, names and members.
var recordRuns = []struct {
	name                   string
	rounds, names, members int
}{
	{"small", 300, 4, 60},     // records of a few KiB, large entries in side records
	{"paged", 1500, 800, 150}, // records past PageThreshold, split into pages
}

func matchMemory(t *testing.T, url string, rounds, names, members int) {
	replicas := []*redis.Store{newStore(t, url), newStore(t, url)}
	mem := memory.New(memory.WithSweepInterval(0))
	t.Cleanup(func() { mem.Close() })
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for round := range rounds {
		specs := make([]opSpec, 1+rng.IntN(12))
		for i := range specs {
			specs[i] = randomOp(rng, base, names, members)
		}
		var mb, rb state.Batch
		mf := build(&mb, specs)
		rf := build(&rb, specs)
		if err := mem.Exec(ctx, &mb); err != nil {
			t.Fatal(err)
		}
		if err := replicas[round%2].Exec(ctx, &rb); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for i := range specs {
			if m, r := mf[i](), rf[i](); !reflect.DeepEqual(m, r) {
				t.Fatalf("round %d op %d (%+v): memory answered %#v, record layout %#v", round, i, specs[i], m, r)
			}
		}
	}
	var side, pages int64
	for _, r := range replicas {
		st := r.RecordStats()
		side += st.SideWrites
		pages += st.PageWrites
		t.Logf("%+v", st)
	}
	if names <= 100 && side == 0 {
		t.Error("no side record was written: the test does not reach large entries")
	}
	if names > 100 && pages == 0 {
		t.Error("no page was written: the test does not reach paged records")
	}
}

type opSpec struct {
	kind     int
	identity string
	name     string
	member   string
	owner    string
	at       time.Time
}

func randomOp(rng *rand.Rand, base time.Time, names, members int) opSpec {
	s := opSpec{
		kind:     rng.IntN(9),
		identity: fmt.Sprintf("id%d", rng.IntN(3)),
		name:     fmt.Sprintf("n%d", rng.IntN(names)),
		member:   fmt.Sprintf("m%d-%s", rng.IntN(members), strings.Repeat("x", rng.IntN(40))),
		owner:    fmt.Sprintf("o%d", rng.IntN(5)),
		at:       base.Add(time.Duration(rng.IntN(7200)) * time.Second),
	}
	s.name = fmt.Sprintf("k%d:%s", s.kind, s.name) // one kind per name, but for the value ops
	if s.kind <= 2 {
		s.name = "v:" + s.name[3:]
	}
	return s
}

// build queues specs on b and returns a reader of each answer.
func build(b *state.Batch, specs []opSpec) []func() any {
	out := make([]func() any, len(specs))
	for i, s := range specs {
		k := state.Key{Tenant: "t", Identity: s.identity, Name: s.name}
		span := state.Span{From: s.at.Add(-time.Hour), To: s.at}
		switch s.kind {
		case 0:
			f := b.Claim(k, []byte(s.owner), time.Hour)
			out[i] = func() any { return fmt.Sprint(f.Get()) }
		case 1:
			f := b.Put(k, []byte(s.member), time.Hour)
			out[i] = func() any { return fmt.Sprint(f.Get()) }
		case 2:
			f := b.Get(k)
			out[i] = func() any { return fmt.Sprint(f.Get()) }
		case 3:
			f := b.WindowAddRead(k, s.member, s.at, span, 5, 3*time.Hour)
			out[i] = func() any { return fmt.Sprint(f.Get()) }
		case 4:
			f := b.WindowRead(k, span, 3)
			out[i] = func() any { return fmt.Sprint(f.Get()) }
		case 5:
			f := b.NoveltyAddBy(k, s.member, s.owner, s.at, 2*time.Hour)
			out[i] = func() any { return fmt.Sprint(f.Get()) }
		case 6:
			f := b.Mark(k, s.at, state.Keep(len(s.owner)%2), time.Hour)
			out[i] = func() any { return fmt.Sprint(f.Get()) }
		case 7:
			f := b.BucketAdd(k, s.member, s.at, 10*time.Minute, 4, 2*time.Hour)
			out[i] = func() any { return fmt.Sprint(f.Get()) }
		default:
			f := b.Throttle(k, s.owner, time.Hour)
			out[i] = func() any { return fmt.Sprint(f.Get()) }
		}
	}
	return out
}
