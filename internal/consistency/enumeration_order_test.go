package consistency_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/state"
)

// access-key-enumeration at its threshold, scored in many orders: record
// by record in event time and in reverse, shuffled within the lateness in
// batches, and split over two replicas whose round trips interleave (see
// turnstile). Issue 13: user/cspm-scanner, weighing exactly the threshold,
// raised an extra HIGH incident on some concurrent runs, because a read
// counted the reads up to the window's width after it too when they had
// arrived first.

func enumDetectors(t *testing.T) []detectors.Detector {
	d, err := builtin.NewAccessKeyEnumeration(detectors.Config{Settings: &detectors.Settings{}})
	if err != nil {
		t.Fatal(err)
	}
	return []detectors.Detector{d}
}

// scannerReads are n distinct EC2 reads (one service, weight 1 each) by
// the scanner's key, spaced by step from start.
func scannerReads(prefix string, n int, start time.Time, step time.Duration) []dt.Rec {
	out := make([]dt.Rec, n)
	for i := range n {
		out[i] = dt.Base("ec2.amazonaws.com", fmt.Sprintf("Describe%s%02d", prefix, i), start.Add(time.Duration(i)*step)).
			With("userIdentity.accessKeyId", "AKIAEXAMPLESCAN0001").With("sourceIPAddress", "198.51.100.20").
			With("userIdentity.arn", "arn:aws:iam::111122223333:user/cspm-scanner").With("userIdentity.userName", "cspm-scanner")
	}
	return out
}

type enumOrderCase struct {
	name string
	recs []dt.Rec
	want int // access-key-enumeration incidents
}

func enumOrderCases() []enumOrderCase {
	t0 := time.Date(2026, 3, 23, 12, 9, 0, 0, time.UTC)
	return []enumOrderCase{
		// 16 distinct reads within five minutes: one incident in every order.
		{name: "16 distinct reads in five minutes", want: 1, recs: scannerReads("A", 16, t0, 20*time.Second)},
		// Quiet twin at the threshold: 7 reads, one read 9 minutes later,
		// 7 more 9 minutes after that. The middle read has all 15 within
		// 10 minutes either side, which it saw whenever the later seven
		// arrived first; no window of the scale holds more than 8.
		{name: "15 reads over 18 minutes, no window holding more than 8", recs: slices.Concat(
			scannerReads("A", 7, t0, 5*time.Second), scannerReads("M", 1, t0.Add(9*time.Minute), 0),
			scannerReads("B", 7, t0.Add(18*time.Minute), 5*time.Second))},
	}
}

func TestEnumerationThresholdOrderFree(t *testing.T) { onStores(t, checkEnumOrders) }

func checkEnumOrders(t *testing.T, open func(testing.TB) state.Store) {
	ctx := context.Background()
	for _, c := range enumOrderCases() {
		t.Run(c.name, func(t *testing.T) {
			want := enumIncidentSet(dt.NewWithStore(t, open(t), enumDetectors(t)...).Stream(c.recs...))
			if len(want) != c.want {
				t.Fatalf("record by record in event time: incidents %v, want %d", want, c.want)
			}
			check := func(order string, vs []engine.Verdict) {
				t.Helper()
				if got := enumIncidentSet(vs); !slices.Equal(got, want) {
					t.Errorf("%s: incidents %v, record by record in event time: %v", order, got, want)
				}
			}
			reversed := slices.Clone(c.recs)
			slices.Reverse(reversed)
			check("reversed", dt.NewWithStore(t, open(t), enumDetectors(t)...).Stream(reversed...))
			for i := range c.recs {
				last := slices.Concat(c.recs[:i], c.recs[i+1:], c.recs[i:i+1])
				check(fmt.Sprintf("record %d delivered last", i), dt.NewWithStore(t, open(t), enumDetectors(t)...).Stream(last...))
			}
			for seed := range uint64(8) {
				h := dt.NewWithStore(t, open(t), enumDetectors(t)...)
				recs := dt.LateOrder(c.recs, detectors.AllowedLateness, seed)
				var vs []engine.Verdict
				for i := 0; i < len(recs); i += 1 + int(seed%4) {
					vs = append(vs, h.Score(recs[i:min(i+1+int(seed%4), len(recs))]...)...)
				}
				check(fmt.Sprintf("shuffled within lateness, seed %d", seed), vs)
			}
			rng := rand.New(rand.NewPCG(13, uint64(len(c.recs))))
			for split := range 12 {
				mask := rng.IntN(1 << len(c.recs))
				for _, sched := range schedules {
					parts := splitBurst(c.recs, mask, split%2 == 1)
					check(fmt.Sprintf("split %b over two replicas, schedule %v", mask, sched),
						scoreInterleavedWith(ctx, t, open(t), parts, sched, enumDetectors))
				}
			}
		})
	}
}

// enumIncidentSet is the access-key-enumeration incidents of vs with the
// highest severity each reached, sorted.
func enumIncidentSet(vs []engine.Verdict) []string {
	top := map[string]detectors.Severity{}
	for _, f := range dt.Only(builtin.AccessKeyEnumerationID, vs) {
		top[f.Incident] = max(top[f.Incident], f.Severity)
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(top)) {
		out = append(out, k+" @"+top[k].String())
	}
	return out
}
