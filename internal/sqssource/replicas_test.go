package sqssource_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/sqssource"
	"github.com/iamsentry/iamsentry/internal/trail/trailtest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
	redisstate "github.com/iamsentry/iamsentry/state/redis"
)

// redisStore opens a store on a real Redis server; replicas each open
// their own, as processes would.
func redisStore(t *testing.T, srv *redistest.Server) state.Store {
	t.Helper()
	opts, err := redisstate.ParseOptions(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	s, err := redisstate.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// firsts counts the verdicts of records scored for the first time.
func firsts(c map[engine.Outcome]int) int {
	return c[engine.OutcomeClean] + c[engine.OutcomeAlert] + c[engine.OutcomeSuppressed]
}

// uninterrupted consumes the trail with one replica on its own store: the
// verdict counts every other run must match.
func uninterrupted(t *testing.T, objects map[string][]byte) map[engine.Outcome]int {
	t.Helper()
	w := newWorld(t, objects)
	queue, _ := w.newQueue(t, 30, 0)
	for _, k := range w.keys {
		w.send(t, queue, s3Event(k))
	}
	r := newReplica(t, memory.New())
	c := w.run(t, r, queue, sqssource.Options{MaxInFlight: 1}) // in key order, as scan reads
	waitFor(t, "the uninterrupted run", func() bool { return c.Stats().Deleted == int64(len(w.keys)) })
	return r.counts()
}

// shared serves the trail with unique event ids for replicas on one Redis,
// and returns what one uninterrupted replica and scan make of it.
func shared(t *testing.T) (w *world, want map[engine.Outcome]int, scanned []string, rdb *redistest.Server) {
	t.Helper()
	objects := uniqueTrail(t)
	dir := t.TempDir()
	trailtest.WriteTree(t, dir, objects)
	want = uninterrupted(t, objects)
	scanned = scanFindings(t, dir)
	return newWorld(t, objects), want, scanned, redistest.StartServer(t)
}

// TestKillMidObject kills a replica after it scored part of an object and
// before it deleted the message. The message comes back after its
// visibility timeout to a second replica on the same Redis, which scores
// the part already scored as DUPLICATE and the rest afresh: every record
// is scored once, and the findings are scan's of the same files.
func TestKillMidObject(t *testing.T) {
	w, want, scanned, rdb := shared(t)
	queue, _ := w.newQueue(t, 2, 0)
	for _, k := range w.keys {
		w.send(t, queue, s3Event(k))
	}
	// A scores two records at a time and dies once it has handled three
	// messages, inside an object: after a chunk of the object it is on
	// when a chunk of it was scored before (A handles one message at a
	// time, so a call that finds the count of objects done unchanged since
	// the previous call continues the same object).
	a := newReplica(t, redisStore(t, rdb))
	var ca atomic.Pointer[sqssource.Consumer]
	prev := int64(-1)
	a.killWhen = func() bool {
		c := ca.Load()
		if c == nil {
			return false
		}
		done := c.Stats().Objects
		mid := done == prev && done >= 3
		prev = done
		return mid
	}
	ca.Store(w.run(t, a, queue, sqssource.Options{MaxInFlight: 1, ChunkRecords: 2, LagInterval: -1}))
	waitFor(t, "replica A killed", func() bool { return a.isKilled() })
	b := newReplica(t, redisStore(t, rdb))
	cb := w.run(t, b, queue, sqssource.Options{MaxInFlight: 2, ChunkRecords: 2, LagInterval: -1})
	waitFor(t, "every message deleted", func() bool {
		return ca.Load().Stats().Deleted+cb.Stats().Deleted == int64(len(w.keys)) && w.depth(t, queue) == 0
	})

	ac, bc := a.counts(), b.counts()
	if got := firsts(ac) + firsts(bc); got != firsts(want) {
		t.Errorf("records scored for the first time: A %d + B %d = %d, want %d (the uninterrupted run's)", firsts(ac), firsts(bc), got, firsts(want))
	}
	redone := bc[engine.OutcomeDuplicate] - want[engine.OutcomeDuplicate]
	if redone <= 0 {
		t.Errorf("B scored %d DUPLICATE (the uninterrupted run %d): the killed message's scored records were not met again", bc[engine.OutcomeDuplicate], want[engine.OutcomeDuplicate])
	}
	if ca.Load().Stats().Deleted >= int64(len(w.keys)) || cb.Stats().Deleted == 0 {
		t.Errorf("A deleted %d, B %d of %d messages: the kill was not mid-stream", ca.Load().Stats().Deleted, cb.Stats().Deleted, len(w.keys))
	}
	// Incidents, not whole findings: a finding's story id names its
	// earliest finding, which the replicas' order may pick differently.
	if got, want := incidents(t, append(a.findings(t), b.findings(t)...)), incidents(t, scanned); !slices.Equal(got, want) {
		t.Errorf("findings differ from scan's\nscan:\n%v\nA+B:\n%v", scanned, got)
	}
	t.Logf("A: %v, %d messages deleted; B: %v, %d deleted; %d records met again as DUPLICATE", ac, ca.Load().Stats().Deleted, bc, cb.Stats().Deleted, redone)
}

// TestThreeReplicasShareQueue runs three replicas on one queue and one
// Redis, with every object notified twice (S3 may deliver a notification
// more than once; here once directly and once through EventBridge): every
// record is scored once (the second notification's records are all
// DUPLICATE), and the findings are scan's.
func TestThreeReplicasShareQueue(t *testing.T) {
	w, want, scanned, rdb := shared(t)
	queue, _ := w.newQueue(t, 5, 0)
	for _, k := range w.keys {
		w.send(t, queue, s3Event(k))
	}
	for _, k := range w.keys {
		w.send(t, queue, eventBridge(k))
	}
	var reps []*replica
	var cons []*sqssource.Consumer
	for range 3 {
		r := newReplica(t, redisStore(t, rdb))
		reps = append(reps, r)
		cons = append(cons, w.run(t, r, queue, sqssource.Options{MaxInFlight: 2, ChunkRecords: 3, LagInterval: -1}))
	}
	waitFor(t, "every message deleted", func() bool {
		var n int64
		for _, c := range cons {
			n += c.Stats().Deleted
		}
		return n == int64(2*len(w.keys)) && w.depth(t, queue) == 0
	})
	total := map[engine.Outcome]int{}
	var found []string
	busy := 0
	for _, r := range reps {
		c := r.counts()
		for o, n := range c {
			total[o] += n
		}
		if len(c) > 0 {
			busy++
		}
		found = append(found, r.findings(t)...)
	}
	if firsts(total) != firsts(want) {
		t.Errorf("records scored for the first time: %d, want %d", firsts(total), firsts(want))
	}
	all := firsts(want) + want[engine.OutcomeDuplicate]
	if total[engine.OutcomeDuplicate] != want[engine.OutcomeDuplicate]+all {
		t.Errorf("DUPLICATE verdicts: %d, want %d (the trail's own) + %d (every record notified twice)", total[engine.OutcomeDuplicate], want[engine.OutcomeDuplicate], all)
	}
	if busy < 2 {
		t.Errorf("only %d of 3 replicas scored anything: the queue was not shared", busy)
	}
	// Three replicas score the objects concurrently, in no fixed order:
	// which record of an incident raises it, and the counts its
	// explanation quotes, may differ from scan's; the incidents may not.
	if got, want := incidents(t, found), incidents(t, scanned); !slices.Equal(got, want) {
		t.Errorf("incidents differ from scan's\nscan:\n%v\nreplicas:\n%v", want, got)
	}
	t.Logf("verdicts over 3 replicas: %v (uninterrupted single run: %v)", total, want)
}
