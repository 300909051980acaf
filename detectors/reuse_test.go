package detectors_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// TestReuseAnswersAsQueued runs random batches of marks, mark reads,
// window reads and adds, window pair adds, bucket adds and value reads twice on fresh
// stores: once queued as they are, once through the reuse helpers, which
// leave some out. Every answer, and what the store holds afterwards, must
// be the same, on the embedded store and on a real redis-server.
func TestReuseAnswersAsQueued(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		compareReuse(t, 300, func(t *testing.T) state.Store {
			s := memory.New(memory.WithSweepInterval(0))
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("redis", func(t *testing.T) {
		if testing.Short() {
			t.Skip("starts a redis-server")
		}
		open := rstore.Factory(t)
		compareReuse(t, 60, func(t *testing.T) state.Store { return open(t) })
	})
}

func compareReuse(t *testing.T, seeds uint64, open func(*testing.T) state.Store) {
	saved := 0
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 7))
		steps := make([]reuseStep, 40+rng.IntN(200))
		for i := range steps {
			steps[i] = randomStep(rng)
		}
		raw, rawOps := runSteps(t, open(t), steps, false)
		helped, helpedOps := runSteps(t, open(t), steps, true)
		saved += rawOps - helpedOps
		for i := range raw {
			if !reflect.DeepEqual(raw[i], helped[i]) {
				t.Fatalf("seed %d, step %d (%s): queued as is answered %v, through the helpers %v",
					seed, i, steps[i], raw[i], helped[i])
			}
		}
	}
	if saved <= 0 {
		t.Errorf("the helpers left out %d operations in %d random batches: the comparison proves nothing", saved, seeds)
	}
}

// TestReuseAfterBatchReuse checks that a batch value filled again after it
// was executed is not mistaken for the batch it was: the helpers must not
// answer from operations of the earlier fill.
func TestReuseAfterBatchReuse(t *testing.T) {
	store := memory.New(memory.WithSweepInterval(0))
	defer store.Close()
	ctx := context.Background()
	key := state.Key{Identity: "id", Name: "m"}
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var b state.Batch
	detectors.Mark(&b, key, at, state.KeepEarliest, time.Hour)
	if err := store.Exec(ctx, &b); err != nil {
		t.Fatal(err)
	}
	b = state.Batch{}
	got := detectors.ReadMark(&b, key)
	if b.Len() != 1 {
		t.Fatalf("a read in a batch filled again was answered from the batch's earlier fill (%d operations queued)", b.Len())
	}
	if err := store.Exec(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if m, err := got.Get(); err != nil || !m.Set || !m.At.Equal(at) {
		t.Errorf("read mark = %v, %v; want %v", m, err, at)
	}
}

// reuseStep is one operation of a random batch.
type reuseStep struct {
	kind   int
	key    int
	at     time.Duration // after the base time
	keep   state.Keep
	member string
	span   int
	limit  int
	flush  bool // execute the batch before this step and start another

	bucketAt time.Duration // of a bucket add, after the base time
}

func (s reuseStep) String() string {
	return fmt.Sprintf("kind %d key %d at %v keep %d member %q span %d limit %d flush %v bucket at %v",
		s.kind, s.key, s.at, s.keep, s.member, s.span, s.limit, s.flush, s.bucketAt)
}

const (
	stepMark = iota
	stepReadMark
	stepWindowRead
	stepWindowAddRead
	stepWindowAdd // queued as is in both runs: another detector's write
	stepBucketAdd
	stepGet
	stepPut // queued as is in both runs
	stepWindowPairAddRead
	stepKinds
)

func randomStep(rng *rand.Rand) reuseStep {
	return reuseStep{
		kind:   rng.IntN(stepKinds),
		key:    rng.IntN(2),
		at:     time.Duration(rng.IntN(6)) * 20 * time.Minute,
		keep:   state.Keep(rng.IntN(2)),
		member: fmt.Sprintf("m%d", rng.IntN(3)),
		span:   rng.IntN(3),
		limit:  rng.IntN(3),
		flush:  rng.IntN(25) == 0,

		bucketAt: time.Duration(rng.IntN(16)-6) * 10 * time.Minute,
	}
}

var reuseBase = time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)

func (s reuseStep) spanOf() state.Span {
	switch s.span {
	case 0:
		return state.Span{From: reuseBase, To: reuseBase.Add(time.Hour)}
	case 1:
		return state.Span{From: reuseBase.Add(-time.Hour), To: reuseBase.Add(3 * time.Hour)}
	}
	return state.Span{From: reuseBase.Add(s.at - 30*time.Minute), To: reuseBase.Add(s.at + 30*time.Minute)}
}

// runSteps executes steps on a fresh store and returns every answer, then
// what each key holds, and the operations it queued.
func runSteps(t *testing.T, store state.Store, steps []reuseStep, helpers bool) ([]any, int) {
	t.Helper()
	ctx := context.Background()
	queued := 0
	key := func(kind string, i int) state.Key {
		return state.Key{Identity: "id", Name: fmt.Sprintf("%s%d", kind, i)}
	}
	const ttl = 2 * time.Hour
	var answers []func() any
	b := &state.Batch{}
	exec := func() {
		queued += b.Len()
		if err := store.Exec(ctx, b); err != nil {
			t.Fatal(err)
		}
		b = &state.Batch{}
	}
	for _, s := range steps {
		if s.flush {
			exec()
		}
		at := reuseBase.Add(s.at)
		switch s.kind {
		case stepMark:
			if helpers {
				f := detectors.Mark(b, key("m", s.key), at, s.keep, ttl)
				answers = append(answers, func() any { return answer(f.Get()) })
			} else {
				f := b.Mark(key("m", s.key), at, s.keep, ttl)
				answers = append(answers, func() any { return answer(f.Get()) })
			}
		case stepReadMark:
			if helpers {
				f := detectors.ReadMark(b, key("m", s.key))
				answers = append(answers, func() any { return answer(f.Get()) })
			} else {
				f := b.ReadMark(key("m", s.key))
				answers = append(answers, func() any { return answer(f.Get()) })
			}
		case stepWindowRead:
			f := b.WindowRead
			if helpers {
				f = func(k state.Key, span state.Span, limit int) *state.Future[state.Window] {
					return detectors.WindowRead(b, k, span, limit)
				}
			}
			r := f(key("w", s.key), s.spanOf(), s.limit)
			answers = append(answers, func() any { return answer(r.Get()) })
		case stepWindowAddRead:
			f := b.WindowAddRead
			if helpers {
				f = func(k state.Key, m string, at time.Time, span state.Span, limit int, ttl time.Duration) *state.Future[state.Window] {
					return detectors.WindowAddRead(b, k, m, at, span, limit, ttl)
				}
			}
			r := f(key("w", s.key), s.member, at, s.spanOf(), s.limit, ttl)
			answers = append(answers, func() any { return answer(r.Get()) })
		case stepWindowPairAddRead:
			f := b.WindowPairAddRead
			if helpers {
				f = func(k state.Key, ms [2]string, at time.Time, spans [2]state.Span, limit int, ttl time.Duration) *state.Future[[2]state.Window] {
					return detectors.WindowPairAddRead(b, k, ms, at, spans, limit, ttl)
				}
			}
			r := f(key("p", s.key), [2]string{s.member, s.member + "'"}, at, [2]state.Span{s.spanOf(), (reuseStep{span: (s.span + 1) % 3, at: s.at}).spanOf()}, s.limit, ttl)
			answers = append(answers, func() any { return answer(r.Get()) })
		case stepWindowAdd:
			r := b.WindowAdd(key("w", s.key), s.member, at, s.spanOf(), ttl)
			answers = append(answers, func() any { return answer(r.Get()) })
		case stepBucketAdd:
			f := b.BucketAdd
			if helpers {
				f = func(k state.Key, m string, at time.Time, w time.Duration, h int, ttl time.Duration) *state.Future[[]int] {
					return detectors.BucketAdd(b, k, m, at, w, h, ttl)
				}
			}
			// Buckets of 30 minutes kept 100 minutes: a cut-off (at−TTL)
			// can cross a bucket boundary between two adds to one bucket.
			at := reuseBase.Add(s.bucketAt)
			r := f(key("c", s.key), s.member, at, 30*time.Minute, 3, 100*time.Minute)
			answers = append(answers, func() any { return answer(r.Get()) })
		case stepGet:
			f := b.Get
			if helpers {
				f = func(k state.Key) *state.Future[[]byte] { return detectors.Get(b, k) }
			}
			r := f(key("g", s.key))
			answers = append(answers, func() any { return answer(r.Get()) })
		case stepPut:
			b.Put(key("g", s.key), []byte(s.member), ttl)
		}
	}
	exec()
	// What the store holds afterwards, read in a batch of its own.
	all := state.Span{From: reuseBase.Add(-24 * time.Hour), To: reuseBase.Add(24 * time.Hour)}
	for i := range 2 {
		m := b.ReadMark(key("m", i))
		w := b.WindowRead(key("w", i), all, 100)
		c := b.BucketRead(key("c", i), reuseBase.Add(time.Hour), 30*time.Minute, 10)
		g := b.Get(key("g", i))
		// A pair has no read-only operation: a probe member, the same in
		// both runs, reads it.
		p := b.WindowPairAddRead(key("p", i), [2]string{"probe", "probe"}, reuseBase, [2]state.Span{all, all}, 100, 2*time.Hour)
		answers = append(answers, func() any { return answer(m.Get()) }, func() any { return answer(w.Get()) },
			func() any { return answer(c.Get()) }, func() any { return answer(g.Get()) }, func() any { return answer(p.Get()) })
	}
	exec()
	out := make([]any, len(answers))
	for i, a := range answers {
		out[i] = a()
	}
	return out, queued
}

func answer[T any](v T, err error) any {
	if err != nil {
		return "error: " + err.Error()
	}
	return v
}
