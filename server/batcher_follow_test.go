package server

import (
	"context"
	"testing"
	"time"
)

// A stream's next job, handed over while its previous one is scored
// (batcher.follow), pinned without a clock or an engine.

// TestFollowWaitsForItsPredecessor: a job that follows one not yet
// finished is not queued for the workers; it becomes ready only when its
// predecessor finishes, before the predecessor's result is out, and a
// gathering worker takes it before the jobs of the queue.
func TestFollowWaitsForItsPredecessor(t *testing.T) {
	b := &batcher{jobs: make(chan *job, 4), size: 512, busyLinger: time.Hour}
	ctx := context.Background()
	prev := newJob(ctx, "", false, make([][]byte, 1))
	next, err := b.follow(ctx, prev, "", false, make([][]byte, 2))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.jobs) != 0 || b.takeReady() != nil {
		t.Fatal("a job following one not yet finished was queued or ready; want it held back")
	}
	other := &job{records: make([][]byte, 1)}
	b.jobs <- other
	b.finish(prev, jobResult{})
	if len(prev.result) != 1 {
		t.Error("the predecessor's result was not sent")
	}
	batch := b.gather(&job{records: make([][]byte, 1)})
	if len(batch) != 3 || batch[1] != next || batch[2] != other {
		t.Errorf("batch %v; want the first job, then the follower (ready once its predecessor finished), then the queued job", batch)
	}
}

// TestFollowAFinishedJobQueuesAtOnce: when the predecessor already has
// its result, the follower goes on the queue like any job.
func TestFollowAFinishedJobQueuesAtOnce(t *testing.T) {
	b := &batcher{jobs: make(chan *job, 1), size: 512}
	ctx := context.Background()
	prev := newJob(ctx, "", false, make([][]byte, 1))
	b.finish(prev, jobResult{})
	next, err := b.follow(ctx, prev, "", false, make([][]byte, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := <-b.jobs; got != next {
		t.Errorf("queued %p, want the follower %p", got, next)
	}
	if prev.next != nil {
		t.Error("a finished job holds a follower")
	}
}

// TestFollowerOfAFailedJobStillRuns: a job fails (its caller gave up)
// while the batcher stops; the job following it is released all the same,
// for a worker to take (work takes ready jobs before it looks at done).
func TestFollowerOfAFailedJobStillRuns(t *testing.T) {
	b := &batcher{jobs: make(chan *job), size: 512, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	prev := newJob(ctx, "", false, make([][]byte, 1))
	next, _ := b.follow(context.Background(), prev, "", false, make([][]byte, 1))
	cancel()
	close(b.done)
	b.run([]*job{prev}) // no engine call: its only job is canceled
	if r := <-prev.result; r.err == nil {
		t.Error("a canceled job got no error")
	}
	if got := b.takeReady(); got != next {
		t.Errorf("ready %p after the predecessor failed, want its follower %p", got, next)
	}
}

// TestRecycledJobForgetsItsChain: a pooled job starts unfinished, with
// no follower.
func TestRecycledJobForgetsItsChain(t *testing.T) {
	b := &batcher{jobs: make(chan *job, 1), size: 512}
	j := newJob(context.Background(), "", false, nil)
	j.next = &job{}
	b.finish(j, jobResult{})
	<-j.result
	j.recycle()
	if j.finished || j.next != nil {
		t.Errorf("recycled job: finished %v, next %v; want false, nil", j.finished, j.next)
	}
}

// TestLeaveCountsOnlyBatchesStillWaiting: a batch that leaves hands its
// ready jobs to a gathering batch only while that batch still waits; one
// whose busy linger ran out (and which is being scored) no longer counts,
// so the leaving worker takes the ready jobs itself.
func TestLeaveCountsOnlyBatchesStillWaiting(t *testing.T) {
	var f flight
	f.enter()
	if f.busy() == nil {
		t.Fatal("no channel with a batch in flight")
	}
	if !f.leave() {
		t.Error("leave with a batch still waiting for it = false; want true")
	}
	f.stopWaiting()
	f.enter()
	f.busy()
	f.stopWaiting() // its linger ran out: it went without waiting further
	if f.leave() {
		t.Error("leave after the waiting batch went = true; want false (nobody would take the ready jobs)")
	}
}
