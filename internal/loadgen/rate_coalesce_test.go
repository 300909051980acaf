package loadgen_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/loadgen"
)

// eventIndex is the schedule index k of a record runSimulated made.
func eventIndex(t *testing.T, raw []byte) int {
	t.Helper()
	var r struct{ EventID string }
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	k, err := strconv.Atoi(r.EventID)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// checkSends asserts the schedule's rules on every request the world saw:
// each event goes on stream k mod streams, in its stream's order, never
// before it is due (start + k/rate), and every event is sent exactly once.
func checkSends(t *testing.T, w *world, rate float64, streams, events, batch int) {
	t.Helper()
	seen := make([]bool, events)
	last := make([]int, streams)
	for i := range last {
		last[i] = -1
	}
	for _, s := range w.sends {
		if n := len(s.req.GetEvents()); n == 0 || n > batch {
			t.Errorf("a request of %d events on stream %d; want 1 to %d", n, s.stream, batch)
		}
		for _, e := range s.req.GetEvents() {
			k := eventIndex(t, e.GetJson())
			due := w.start.Add(time.Duration(float64(k) * float64(time.Second) / rate))
			switch {
			case k%streams != s.stream:
				t.Errorf("event %d sent on stream %d; want %d", k, s.stream, k%streams)
			case k <= last[s.stream]:
				t.Errorf("event %d sent on stream %d after event %d", k, s.stream, last[s.stream])
			case s.at.Before(due):
				t.Errorf("event %d sent at %v, before it was due at %v", k, s.at.Sub(w.start), due.Sub(w.start))
			case seen[k]:
				t.Errorf("event %d sent twice", k)
			}
			seen[k], last[s.stream] = true, k
		}
	}
	if i := slices.Index(seen, false); i >= 0 {
		t.Errorf("event %d never sent", i)
	}
}

// TestRateSendsWhatIsDueTogether: 10k events/s on 4 streams with a timer
// that fires only on whole milliseconds (as Go's does when the process is
// otherwise idle). The sender wakes once a millisecond and sends the ten
// events due by then in one request per stream (3, 3, 2, 2), none before
// its due time, and each event's latency is counted from its own due time:
// 0.9 ms for the first of a millisecond down to 0 for the last, though all
// ten left together.
func TestRateSendsWhatIsDueTogether(t *testing.T) {
	w := newWorld(0, 0)
	w.tick = ms(1)
	rep := runSimulated(t, w, loadgen.RateConfig{Rate: 10000, Events: 101, Streams: 4, Batch: 100})
	checkSends(t, w, 10000, 4, 101, 100)
	// Event 0 is due at the start and goes alone; then ten wakes, each
	// sending ten events over the four streams.
	if rep.Wakes != 11 || rep.Requests != 1+10*4 {
		t.Errorf("%d wakes, %d requests; want 11 and 41", rep.Wakes, rep.Requests)
	}
	var want []time.Duration
	for k := range 101 {
		// event k is due at k×0.1 ms and sent (and, the server being
		// instant, answered) at the next whole millisecond
		due := time.Duration(k) * 100 * time.Microsecond
		want = append(want, (due+ms(1)-1).Truncate(ms(1))-due)
	}
	slices.Sort(want)
	if !slices.Equal(rep.Latencies, want) {
		t.Errorf("latencies from the due times:\n got %v\nwant %v", rep.Latencies, want)
	}
	if !slices.Equal(rep.SendLags, want) {
		t.Errorf("send lags (an instant server: the whole latency):\n got %v\nwant %v", rep.SendLags, want)
	}
	if rep.MaxSendLag != 900*time.Microsecond {
		t.Errorf("max send lag %v; want 900µs (event 1, due at 0.1 ms, sent at 1 ms)", rep.MaxSendLag)
	}
}

// TestRateCatchesUpAcrossStreamsInBatches: 1k events/s on 3 streams, Batch
// 4, the server stalls from 20 ms to 50 ms. Event 20's send blocks in the
// stall; at 50 ms events 21–50 are due, and the sender sends them at once,
// at most 4 per request: three wakes of 12, 12 and 6 events, one request a
// stream each. Latencies are those of the one-stream stall test: every
// event is charged from its own due time, however it was grouped.
func TestRateCatchesUpAcrossStreamsInBatches(t *testing.T) {
	w := newWorld(ms(20), ms(50))
	rep := runSimulated(t, w, loadgen.RateConfig{Rate: 1000, Events: 100, Streams: 3, Batch: 4})
	checkSends(t, w, 1000, 3, 100, 4)
	if rep.Wakes != 21+3+49 || rep.Requests != 21+9+49 {
		t.Errorf("%d wakes, %d requests; want 73 and 79", rep.Wakes, rep.Requests)
	}
	want := stallLatencies(100, 20, 50)
	if !slices.Equal(rep.Latencies, want) {
		t.Errorf("latencies from the due times:\n got %v\nwant %v", rep.Latencies, want)
	}
}

// TestRateWakesAgainstAServer: on the wall clock and a real server, each
// wake sends at least one request and at most one per stream, and no
// request exceeds Batch, so the wakes lie between Requests/Streams and
// Requests. It asserts no time.
func TestRateWakesAgainstAServer(t *testing.T) {
	conn := startServer(t)
	raws := testCorpus()
	const streams, batch = 3, 7
	rep, err := loadgen.RunRate(t.Context(), loadgen.OpenScore(conn), loadgen.RateConfig{Records: raws, Rate: 20000, Streams: streams, Batch: batch})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Wakes < 1 || rep.Wakes > rep.Requests || rep.Requests > rep.Wakes*streams || rep.Requests*batch < rep.Events {
		t.Errorf("%d events in %d requests over %d wakes; want wakes <= requests <= %d × wakes, requests × %d >= events",
			rep.Events, rep.Requests, rep.Wakes, streams, batch)
	}
}
