// Package loadgen streams a corpus of CloudTrail records to a running
// iamsentry server over concurrent Score streams and measures what came
// back: events per second and per-request verdict latency. Run is closed
// loop (a window of requests in flight per stream), for throughput; RunRate
// is open loop (events offered on a fixed schedule), for latency at a given
// load. cmd/loadgen
// wraps it with process management (starting Redis and the server) and
// server-side figures (CPU, Redis commands, round trips).
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// Config says what to send and how.
type Config struct {
	Records [][]byte // the corpus, sent in order, split between streams
	Streams int      // concurrent Score streams; default 8
	Batch   int      // events per request; default 100
	Window  int      // requests in flight per stream; default 4
}

// Report is what a run measured.
type Report struct {
	Events, Requests int
	Elapsed          time.Duration
	Outcomes         map[string]int // verdict outcome → count
	Latencies        []time.Duration
}

// EventsPerSecond is the throughput of the run.
func (r *Report) EventsPerSecond() float64 { return float64(r.Events) / r.Elapsed.Seconds() }

// Percentile returns the p-th percentile (0–100) of request latency.
func (r *Report) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.Latencies)
	slices.Sort(s)
	i := int(p / 100 * float64(len(s)-1))
	return s[i]
}

// Run streams cfg.Records over conn and waits for every verdict.
func Run(ctx context.Context, conn grpc.ClientConnInterface, cfg Config) (*Report, error) {
	if cfg.Streams <= 0 {
		cfg.Streams = 8
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Window <= 0 {
		cfg.Window = 4
	}
	// Requests are dealt to streams in turn, so each stream carries a
	// slice of the corpus spread over its whole time range.
	var requests [][][]byte
	for i := 0; i < len(cfg.Records); i += cfg.Batch {
		requests = append(requests, cfg.Records[i:min(i+cfg.Batch, len(cfg.Records))])
	}
	perStream := make([][][][]byte, cfg.Streams)
	for i, r := range requests {
		perStream[i%cfg.Streams] = append(perStream[i%cfg.Streams], r)
	}
	client := iamsentryv1.NewDetectionServiceClient(conn)
	results := make([]*Report, cfg.Streams)
	errs := make([]error, cfg.Streams)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range cfg.Streams {
		wg.Go(func() { results[i], errs[i] = runStream(ctx, client, perStream[i], cfg.Window) })
	}
	wg.Wait()
	total := &Report{Elapsed: time.Since(start), Outcomes: map[string]int{}}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, r := range results {
		total.Events += r.Events
		total.Requests += r.Requests
		total.Latencies = append(total.Latencies, r.Latencies...)
		for k, n := range r.Outcomes {
			total.Outcomes[k] += n
		}
	}
	return total, nil
}

// runStream sends requests on one stream with at most window in flight
// and checks that every request is answered, in order, with one verdict per
// event.
func runStream(ctx context.Context, client iamsentryv1.DetectionServiceClient, requests [][][]byte, window int) (*Report, error) {
	rep := &Report{Outcomes: map[string]int{}}
	if len(requests) == 0 {
		return rep, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Score(ctx)
	if err != nil {
		return nil, fmt.Errorf("opening a stream: %w", err)
	}
	sent := make([]time.Time, len(requests))
	slots := make(chan struct{}, window)
	sendErr := make(chan error, 1)
	go func() {
		for i, recs := range requests {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				sendErr <- ctx.Err()
				return
			}
			req := &iamsentryv1.ScoreRequest{Sequence: uint64(i + 1)}
			for _, r := range recs {
				req.Events = append(req.Events, &iamsentryv1.Event{Record: &iamsentryv1.Event_Json{Json: r}})
			}
			sent[i] = time.Now()
			if err := stream.Send(req); err != nil {
				sendErr <- fmt.Errorf("sending request %d: %w", i+1, err)
				return
			}
		}
		sendErr <- stream.CloseSend()
	}()
	for i := range requests {
		resp, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("response %d of %d: %w", i+1, len(requests), err)
		}
		rep.Latencies = append(rep.Latencies, time.Since(sent[i]))
		<-slots
		if resp.GetSequence() != uint64(i+1) || len(resp.GetVerdicts()) != len(requests[i]) {
			return nil, fmt.Errorf("response %d: sequence %d with %d verdicts, want sequence %d with %d",
				i+1, resp.GetSequence(), len(resp.GetVerdicts()), i+1, len(requests[i]))
		}
		for _, v := range resp.GetVerdicts() {
			rep.Outcomes[v.GetOutcome().String()]++
		}
		rep.Events += len(requests[i])
		rep.Requests++
	}
	if err := <-sendErr; err != nil {
		return nil, err
	}
	return rep, nil
}
