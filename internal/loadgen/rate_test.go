package loadgen_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/internal/loadgen"
)

// world is a simulated clock and a simulated server in one: time moves only
// when the sender (RunRate sends every stream's events from one goroutine) is asleep (or blocked on a stalled server) and every
// receiver is idle, and then it jumps to the earliest wake-up. The server
// answers each request at once, except that a Send made during the stall
// [stallFrom, stallTo) blocks until stallTo, as a client's send does when the
// server stops reading and flow control fills. So every figure the runner
// records is exact and the test asserts no wall-clock time.
type world struct {
	mu                 sync.Mutex
	cond               *sync.Cond
	start, now         time.Time
	stallFrom, stallTo time.Duration
	sleepers           []time.Time
	streams            []*fakeStream
	done               bool
	// tick, when set, is the timer granularity: a sleep ends at the first
	// multiple of tick (from start) at or after its deadline, as the Go
	// runtime's timers do when nothing else wakes the process.
	tick time.Duration
	// sends logs every request: when it was sent and on which stream.
	sends []sent
}

type sent struct {
	at     time.Time
	stream int
	req    *iamsentryv1.ScoreRequest
}

func newWorld(stallFrom, stallTo time.Duration) *world {
	w := &world{start: time.Unix(1_700_000_000, 0), stallFrom: stallFrom, stallTo: stallTo}
	w.now = w.start
	w.cond = sync.NewCond(&w.mu)
	return w
}

func (w *world) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *world) SleepUntil(_ context.Context, t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.tick > 0 {
		if over := t.Sub(w.start) % w.tick; over > 0 {
			t = t.Add(w.tick - over)
		}
	}
	w.sleepLocked(t)
	return nil
}

func (w *world) sleepLocked(t time.Time) {
	if !t.After(w.now) {
		return
	}
	w.sleepers = append(w.sleepers, t)
	w.cond.Broadcast()
	for w.now.Before(t) {
		w.cond.Wait()
	}
	w.sleepers = slices.Delete(w.sleepers, slices.Index(w.sleepers, t), slices.Index(w.sleepers, t)+1)
	w.cond.Broadcast()
}

// quiet says whether nothing can happen until time moves.
func (w *world) quiet() bool {
	for _, t := range w.sleepers {
		if !t.After(w.now) {
			return false // about to wake
		}
	}
	open := 0
	for _, s := range w.streams {
		if !s.closed {
			open++
		}
		if !s.finished && (!s.receiving || len(s.answers) > 0) {
			return false
		}
	}
	return open > 0 && len(w.sleepers) == 1 // the one sender
}

// drive advances time until the run ends.
func (w *world) drive() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for !w.done {
		if !w.quiet() {
			w.cond.Wait()
			continue
		}
		w.now = slices.MinFunc(w.sleepers, func(a, b time.Time) int { return a.Compare(b) })
		w.cond.Broadcast()
	}
}

func (w *world) open(context.Context) (loadgen.ScoreStream, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &fakeStream{w: w, index: len(w.streams)}
	w.streams = append(w.streams, s)
	return s, nil
}

type fakeStream struct {
	w         *world
	index     int
	answers   []*iamsentryv1.ScoreResponse
	receiving bool
	closed    bool // the client closed its side
	finished  bool // the client has read the end of the stream
}

func (s *fakeStream) Send(req *iamsentryv1.ScoreRequest) error {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sends = append(w.sends, sent{at: w.now, stream: s.index, req: req})
	if at := w.now.Sub(w.start); at >= w.stallFrom && at < w.stallTo {
		w.sleepLocked(w.start.Add(w.stallTo))
	}
	resp := &iamsentryv1.ScoreResponse{Sequence: req.GetSequence()}
	for range req.GetEvents() {
		resp.Verdicts = append(resp.Verdicts, &iamsentryv1.Verdict{Outcome: iamsentryv1.Outcome_OUTCOME_CLEAN})
	}
	s.answers = append(s.answers, resp)
	w.cond.Broadcast()
	return nil
}

func (s *fakeStream) Recv() (*iamsentryv1.ScoreResponse, error) {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	s.receiving = true
	w.cond.Broadcast()
	for len(s.answers) == 0 && !s.closed {
		w.cond.Wait()
	}
	s.receiving = false
	if len(s.answers) == 0 {
		s.finished = true
		return nil, io.EOF
	}
	resp := s.answers[0]
	s.answers = s.answers[1:]
	return resp, nil
}

func (s *fakeStream) CloseSend() error {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	s.closed = true
	s.w.cond.Broadcast()
	return nil
}

func runSimulated(t *testing.T, w *world, cfg loadgen.RateConfig) *loadgen.RateReport {
	t.Helper()
	cfg.Clock = w
	cfg.Records = make([][]byte, cfg.Events)
	for i := range cfg.Records {
		cfg.Records[i] = fmt.Appendf(nil, `{"eventID":"%d"}`, i)
	}
	go w.drive()
	rep, err := loadgen.RunRate(context.Background(), w.open, cfg)
	w.mu.Lock()
	w.done = true
	w.cond.Broadcast()
	w.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// stallLatencies are the sorted latencies of events 0 … n-1 at 1k events/s
// against an instant server that stalls from ms(from) to ms(to): each event
// due in the stall is charged from its own due time to its end.
func stallLatencies(n, from, to int) []time.Duration {
	var want []time.Duration
	for k := range n {
		if k >= from && k < to {
			want = append(want, ms(to)-ms(k))
		} else {
			want = append(want, 0)
		}
	}
	slices.Sort(want)
	return want
}

func TestRateKeepsTheScheduleOfAPromptServer(t *testing.T) {
	w := newWorld(0, 0)
	rep := runSimulated(t, w, loadgen.RateConfig{Rate: 1000, Events: 100, Streams: 3, Batch: 10})
	if rep.Events != 100 || rep.Requests != 100 || rep.Outcomes["OUTCOME_CLEAN"] != 100 {
		t.Errorf("events %d in %d requests, outcomes %v; want 100 in 100 (one event due at a time), all clean", rep.Events, rep.Requests, rep.Outcomes)
	}
	if rep.Percentile(100) != 0 || rep.MaxSendLag != 0 {
		t.Errorf("an instant server: max latency %v, send lag %v; want 0", rep.Percentile(100), rep.MaxSendLag)
	}
	if rep.Elapsed != ms(99) || math.Abs(rep.AchievedRate()-1000) > 1e-6 {
		t.Errorf("elapsed %v, achieved %v events/s; want 99ms (the last event is due at 99 ms) and 1000", rep.Elapsed, rep.AchievedRate())
	}
}

// TestRateChargesAStallToEveryEventDueDuringIt is the coordinated-omission
// property: the server stalls from 20 ms to 50 ms, the sender is blocked in
// the meantime, and each of the 30 events due during the stall is charged
// from its own due time (30 ms for the one due at 20 ms, down to 1 ms for the
// one due at 49 ms). A client measuring from its actual send would record one
// slow request and 29 fast ones sent in a burst at 50 ms.
func TestRateChargesAStallToEveryEventDueDuringIt(t *testing.T) {
	w := newWorld(ms(20), ms(50))
	rep := runSimulated(t, w, loadgen.RateConfig{Rate: 1000, Events: 100, Streams: 1, Batch: 10})
	want := stallLatencies(100, 20, 50)
	if !slices.Equal(rep.Latencies, want) {
		t.Errorf("latencies from the intended times:\n got %v\nwant %v", rep.Latencies, want)
	}
	if p50, p99, max := rep.Percentile(50), rep.Percentile(99), rep.Percentile(100); p50 != 0 || p99 != ms(29) || max != ms(30) {
		t.Errorf("p50 %v p99 %v max %v; want 0, 29ms, 30ms", p50, p99, max)
	}
	// Events 21..50 were due by the end of the stall: sent in three
	// requests of 10 (Batch) at 50 ms, the first of them 29 ms late.
	if rep.Requests != 100-30+3 || rep.MaxSendLag != ms(29) {
		t.Errorf("%d requests, max send lag %v; want 73 and 29ms", rep.Requests, rep.MaxSendLag)
	}
	if math.Abs(rep.AchievedRate()-1000) > 1e-6 {
		t.Errorf("achieved %v events/s; the stall was caught up, want 1000", rep.AchievedRate())
	}
}

func TestRateSpreadsTheStallAcrossStreams(t *testing.T) {
	// Two streams: the first send into the stall blocks, and with it the
	// sender of both streams (as flow control on their one connection
	// would). Whatever the interleaving, every event due in [20 ms, 50 ms) is
	// charged at least until 50 ms, none is charged less than 0, and events
	// due after 50 ms are not charged at all.
	w := newWorld(ms(20), ms(50))
	rep := runSimulated(t, w, loadgen.RateConfig{Rate: 1000, Events: 100, Streams: 2, Batch: 100})
	var slow int
	for _, l := range rep.Latencies {
		if l > 0 {
			slow++
		}
	}
	if slow != 30 || rep.Percentile(100) != ms(30) {
		t.Errorf("%d events charged for the stall, the worst %v; want 30 and 30ms", slow, rep.Percentile(100))
	}
}

func TestRateRefusesAnUnboundedOrEmptyRun(t *testing.T) {
	w := newWorld(0, 0)
	for _, cfg := range []loadgen.RateConfig{
		{Rate: 0, Records: [][]byte{{}}},
		{Rate: 10},
		{Rate: 10, Records: [][]byte{{}}, Events: 2},
	} {
		if _, err := loadgen.RunRate(context.Background(), w.open, cfg); err == nil {
			t.Errorf("RunRate(%+v) = nil error; want a refusal", cfg)
		}
	}
}
