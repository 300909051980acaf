package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// The open-loop run offers events on a fixed schedule, whatever the server
// does: event k is due at start + k/Rate. Its latency is measured from that
// intended time, not from when it was actually sent, so a server that stalls
// (and with it, through flow control, the sender) is charged for every event
// that was due during the stall, not only for the one request that was in
// flight. This is the coordinated-omission correction of wrk2 and
// HdrHistogram, applied at the source instead of by back-filling samples.
//
// Latencies are kept as exact samples, sorted once at the end: a run is
// bounded (RateConfig.Events), so memory is 16 bytes per event (the
// samples, and the same grouped by second of the schedule), and the
// percentiles are exact rather than bucketed.

// Clock is the time source of an open-loop run. The wall clock is used
// unless a test supplies another.
type Clock interface {
	Now() time.Time
	// SleepUntil returns once Now is at or after t, or with ctx's error.
	SleepUntil(ctx context.Context, t time.Time) error
}

// ScoreStream is one Score stream as the open-loop sender sees it; the
// generated gRPC client stream satisfies it.
type ScoreStream interface {
	Send(*iamsentryv1.ScoreRequest) error
	Recv() (*iamsentryv1.ScoreResponse, error)
	CloseSend() error
}

// OpenScore returns a function that opens Score streams on conn.
func OpenScore(conn grpc.ClientConnInterface) func(context.Context) (ScoreStream, error) {
	client := iamsentryv1.NewDetectionServiceClient(conn)
	return func(ctx context.Context) (ScoreStream, error) { return client.Score(ctx) }
}

// RateConfig says what to offer and how fast.
type RateConfig struct {
	Records [][]byte // the corpus; the first Events records are sent, dealt to streams in turn
	Rate    float64  // events offered per second; must be positive
	Events  int      // how many events the run offers (bounds its length); default len(Records)
	Streams int      // concurrent Score streams; default 4
	// Batch caps the events in one request: when the sender wakes it sends
	// every event already due, on each stream up to Batch in one request
	// (the rest go at once in the next). Default 100.
	Batch int
	Clock Clock // default the wall clock
}

// RateReport is what an open-loop run measured.
type RateReport struct {
	Events, Requests int
	Rate             float64        // offered events per second
	Elapsed          time.Duration  // from the first event's intended time to the last verdict
	Outcomes         map[string]int // verdict outcome → count
	// Latencies holds one sample per event, from its intended send time to
	// the arrival of its verdict, sorted ascending.
	Latencies []time.Duration
	// MaxSendLag is the longest a request left after its first event was
	// due: how far the sender (the client machine, or flow control from a
	// slow server) fell behind the schedule.
	MaxSendLag time.Duration
	// Wakes is how many times the sender woke to send: once per event when
	// events are due far apart, less when several are due at once (each
	// wake sends every event already due, on every stream). What the
	// generator costs in CPU follows it more than the event count.
	Wakes int
	// SendLags holds one sample per event, from its due time to when the
	// sender sent it, sorted ascending: the part of each latency that is the
	// generator's own (its timer waking late, or a blocked send), not the
	// server's answer.
	SendLags []time.Duration
	// Seconds is the run second by second from the first event's due
	// time, so a burst shows where a run-wide percentile hides it: a p99
	// made by one bad second looks different from one made by a server
	// that is slow throughout, or that falls behind for good.
	Seconds []RateSecond
}

// RateSecond is one second of an open-loop run.
type RateSecond struct {
	// Due is the events due in this second; Answered the verdicts that
	// arrived in it (a server that keeps up answers what is due; one that
	// falls behind answers less, and catches up later, or never).
	Due, Answered int
	// P50, P99 and Max are the verdict latencies of the events due in
	// this second, from their due times.
	P50, P99, Max time.Duration
}

// AchievedRate is the events answered per second, measured over the span
// from the first event's intended time to the last verdict; it falls below
// Rate when the server cannot keep up.
func (r *RateReport) AchievedRate() float64 {
	if r.Events < 2 || r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events-1) / r.Elapsed.Seconds()
}

// SendLagPercentile returns the p-th percentile (0–100) of SendLags by the
// nearest-rank method.
func (r *RateReport) SendLagPercentile(p float64) time.Duration { return percentile(r.SendLags, p) }

// Percentile returns the p-th percentile (0–100) of verdict latency by the
// nearest-rank method: the smallest sample with at least p % of samples at
// or below it.
func (r *RateReport) Percentile(p float64) time.Duration { return percentile(r.Latencies, p) }

// percentile is the nearest-rank p-th percentile of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(n))) - 1
	return sorted[min(max(i, 0), n-1)]
}

// RunRate offers cfg.Events events at cfg.Rate over streams opened with
// open and waits for every verdict.
func RunRate(ctx context.Context, open func(context.Context) (ScoreStream, error), cfg RateConfig) (*RateReport, error) {
	if cfg.Events <= 0 {
		cfg.Events = len(cfg.Records)
	}
	if !(cfg.Rate > 0) || cfg.Events > len(cfg.Records) || cfg.Events == 0 {
		return nil, fmt.Errorf("open loop: rate %v over %d events of a %d-record corpus", cfg.Rate, cfg.Events, len(cfg.Records))
	}
	if cfg.Streams <= 0 {
		cfg.Streams = 4
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Clock == nil {
		cfg.Clock = wallClock{}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sched := schedule{rate: cfg.Rate, streams: cfg.Streams, events: cfg.Events}
	results := make([]*rateStream, cfg.Streams)
	for i := range results {
		s, err := open(ctx)
		if err != nil {
			return nil, fmt.Errorf("opening stream %d: %w", i, err)
		}
		n := sched.perStream(i)
		results[i] = &rateStream{cfg: &cfg, index: i, stream: s, outcomes: map[string]int{}, n: n, sizes: make(chan int, max(n, 1))}
	}
	sched.start = cfg.Clock.Now()
	errs := make([]error, cfg.Streams+1)
	var wg sync.WaitGroup
	for i, r := range results {
		r.sched = sched
		wg.Go(func() {
			if errs[i] = r.receive(); errs[i] != nil {
				cancel()
			}
		})
	}
	snd := &sender{cfg: &cfg, sched: sched, streams: results}
	wg.Go(func() {
		if errs[cfg.Streams] = snd.run(ctx); errs[cfg.Streams] != nil {
			cancel()
		}
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	rep := &RateReport{Rate: cfg.Rate, Outcomes: map[string]int{}, MaxSendLag: snd.maxLag, Wakes: snd.wakes, SendLags: snd.lags}
	var last time.Time
	for _, r := range results {
		rep.Events += len(r.latencies)
		rep.Requests += r.requests
		rep.Latencies = append(rep.Latencies, r.latencies...)
		for k, n := range r.outcomes {
			rep.Outcomes[k] += n
		}
		if r.lastAnswer.After(last) {
			last = r.lastAnswer
		}
	}
	slices.Sort(rep.Latencies)
	slices.Sort(rep.SendLags)
	rep.Elapsed = last.Sub(sched.start)
	rep.Seconds = bySecond(results)
	return rep, nil
}

// bySecond merges the streams' per-second samples into the run's seconds.
func bySecond(results []*rateStream) []RateSecond {
	n := 0
	for _, r := range results {
		n = max(n, len(r.dueLatencies), len(r.answered))
	}
	out := make([]RateSecond, n)
	var lat []time.Duration
	for sec := range out {
		lat = lat[:0]
		for _, r := range results {
			if sec < len(r.dueLatencies) {
				lat = append(lat, r.dueLatencies[sec]...)
			}
			if sec < len(r.answered) {
				out[sec].Answered += r.answered[sec]
			}
		}
		slices.Sort(lat)
		out[sec].Due = len(lat)
		out[sec].P50, out[sec].P99, out[sec].Max = percentile(lat, 50), percentile(lat, 99), percentile(lat, 100)
	}
	return out
}

// second is which second of the run t falls in, counted from its start.
func (s schedule) second(t time.Time) int { return int(max(t.Sub(s.start), 0) / time.Second) }

// grow returns s with index i in range.
func grow[T any](s []T, i int) []T {
	if i < len(s) {
		return s
	}
	return append(s, make([]T, i+1-len(s))...)
}

// schedule maps events to streams and intended times: event k goes on
// stream k mod streams, due at start + k/rate.
type schedule struct {
	start   time.Time
	rate    float64
	streams int
	events  int
}

func (s schedule) due(k int) time.Time {
	return s.start.Add(time.Duration(float64(k) * float64(time.Second) / s.rate))
}

// perStream is how many events stream i carries.
func (s schedule) perStream(i int) int { return (s.events - i + s.streams - 1) / s.streams }

// rateStream is one stream: its receiver and what the receiver saw.
type rateStream struct {
	cfg    *RateConfig
	sched  schedule
	index  int
	stream ScoreStream
	n      int      // how many events this stream carries
	sizes  chan int // the sender's request sizes, in order; never blocks

	latencies  []time.Duration
	outcomes   map[string]int
	requests   int
	lastAnswer time.Time
	// dueLatencies holds the latencies of the events due in each second
	// of the run; answered counts the verdicts that arrived in each.
	dueLatencies [][]time.Duration
	answered     []int
}

// receive reads this stream's answers until the sender has closed it and
// every request is answered. The sender never waits for an answer; it tells
// the receiver each request's size through r.sizes.
func (r *rateStream) receive() error {
	n := r.n
	next := 0 // this stream's next event to be answered
	for {
		resp, err := r.stream.Recv()
		if errors.Is(err, io.EOF) && next == n {
			return nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("stream %d, after %d of %d answers: %w", r.index, next, n, err)
		}
		at := r.cfg.Clock.Now()
		var size int
		select {
		case size = <-r.sizes:
		default:
			return fmt.Errorf("stream %d: an answer (sequence %d) to no request", r.index, resp.GetSequence())
		}
		if resp.GetSequence() != uint64(r.requests+1) || len(resp.GetVerdicts()) != size {
			return fmt.Errorf("stream %d: sequence %d with %d verdicts, want sequence %d with %d",
				r.index, resp.GetSequence(), len(resp.GetVerdicts()), r.requests+1, size)
		}
		for j := next; j < next+size; j++ {
			due := r.sched.due(r.index + j*r.sched.streams)
			l := at.Sub(due)
			r.latencies = append(r.latencies, l)
			sec := r.sched.second(due)
			r.dueLatencies = grow(r.dueLatencies, sec)
			r.dueLatencies[sec] = append(r.dueLatencies[sec], l)
		}
		sec := r.sched.second(at)
		r.answered = grow(r.answered, sec)
		r.answered[sec] += size
		for _, v := range resp.GetVerdicts() {
			r.outcomes[v.GetOutcome().String()]++
		}
		next += size
		r.requests++
		r.lastAnswer = at
	}
}

// sender offers the events of every stream on the schedule from one
// goroutine. One sender, not one per stream, because what a generator costs
// is its wake-ups, not its events: at 5k events/s on 8 streams, eight
// senders each woke for every event they carried (one event per request);
// one sender that wakes finds the events of several streams already due and
// sends them together, one request per stream, which the client transport
// then writes to the connection in one go. No event waits for another: the
// sender sleeps until the earliest unsent event is due and sends it, and
// with it only what is due by then.
type sender struct {
	cfg     *RateConfig
	sched   schedule
	streams []*rateStream
	maxLag  time.Duration // read after run ends
	wakes   int
	lags    []time.Duration // one per event, in send order
}

// run sends events 0 … Events-1 in due order, then closes every stream.
// Event k goes on stream k mod Streams; a wake sends at most Batch events
// per stream, and any left due are sent at once by the next wake.
func (s *sender) run(ctx context.Context) error {
	streams := s.sched.streams
	seq := make([]uint64, streams)
	s.lags = make([]time.Duration, 0, s.sched.events)
	for k := 0; k < s.sched.events; {
		first := s.sched.due(k)
		if err := s.cfg.Clock.SleepUntil(ctx, first); err != nil {
			return err
		}
		now := s.cfg.Clock.Now()
		s.wakes++
		s.maxLag = max(s.maxLag, now.Sub(first))
		end := k + 1 // events k … end-1 go now: all due by now, Batch a stream
		for end < s.sched.events && end-k < s.cfg.Batch*streams && !s.sched.due(end).After(now) {
			end++
		}
		// One request per stream, in the order of their first events.
		for m := k; m < min(end, k+streams); m++ {
			i := m % streams
			seq[i]++
			req := &iamsentryv1.ScoreRequest{Sequence: seq[i], Events: make([]*iamsentryv1.Event, 0, (end-m+streams-1)/streams)}
			for e := m; e < end; e += streams {
				s.lags = append(s.lags, now.Sub(s.sched.due(e)))
				req.Events = append(req.Events, &iamsentryv1.Event{Record: &iamsentryv1.Event_Json{Json: s.cfg.Records[e]}})
			}
			st := s.streams[i]
			st.sizes <- len(req.Events)
			if err := st.stream.Send(req); err != nil {
				return fmt.Errorf("stream %d, sending request %d: %w", i, seq[i], err)
			}
		}
		k = end
	}
	var errs []error
	for i, st := range s.streams {
		if err := st.stream.CloseSend(); err != nil {
			errs = append(errs, fmt.Errorf("stream %d: closing: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
