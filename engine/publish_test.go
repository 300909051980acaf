package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// alertingRecords raise a per-event finding (an admin attach) and a
// throttled incident (enumeration), so scoring them takes every round trip
// an alerting batch can: claims, throttles, remembering.
func alertingRecords() [][]byte {
	recs := [][]byte{attachAdmin("r", t0).JSON()}
	services := []string{"iam", "ec2", "s3", "rds"}
	for i := range 16 {
		svc := services[i%4]
		recs = append(recs, dt.Base(svc+".amazonaws.com", fmt.Sprintf("DescribeThing%02d", i), t0.Add(time.Duration(i)*10*time.Second)).With("readOnly", true).JSON())
	}
	return recs
}

// TestPublishOnceWhateverReplyIsLost loses the reply of each round trip of
// an alerting batch in turn; the caller retries a failed call, as clients
// do, then redelivers once more. Every finding reaches Publish exactly
// once, and the answers carry what was published.
func TestPublishOnceWhateverReplyIsLost(t *testing.T) {
	for lose := 1; lose <= 4; lose++ {
		t.Run(fmt.Sprintf("reply %d lost", lose), func(t *testing.T) {
			e, store := newLostReplyEngine(t)
			store.lose = lose
			published := map[string]int{} // incident + event → times handed out
			batch := engine.Batch{Records: alertingRecords(), Publish: func(fresh []engine.Verdict) {
				for _, v := range fresh {
					for _, f := range v.Findings {
						published[f.Incident+" "+v.EventID]++
					}
				}
			}}
			vs, err := e.Score(context.Background(), batch)
			if err != nil {
				if !engine.IsUnavailable(err) {
					t.Fatalf("first attempt: %v", err)
				}
				if vs, err = e.Score(context.Background(), batch); err != nil {
					t.Fatalf("retry: %v", err)
				}
			}
			answered := map[string]bool{}
			for _, v := range vs {
				for _, f := range v.Findings {
					answered[f.Incident+" "+v.EventID] = true
				}
			}
			again, err := e.Score(context.Background(), batch)
			if err != nil {
				t.Fatalf("redelivery: %v", err)
			}
			for _, v := range again {
				if v.Outcome != engine.OutcomeDuplicate {
					t.Errorf("redelivery of %s: %v, want DUPLICATE", v.EventID, v.Outcome)
				}
			}
			if len(answered) < 2 {
				t.Fatalf("answers carry %d findings, want the admin attach and the enumeration", len(answered))
			}
			for k := range answered {
				if published[k] != 1 {
					t.Errorf("finding %s published %d times, want exactly once", k, published[k])
				}
			}
			if len(published) != len(answered) {
				t.Errorf("published %v, answered %v: publishing and answers disagree", published, answered)
			}
			if store.execs < lose {
				t.Fatalf("the batch took %d round trips; reply %d was never lost", store.execs, lose)
			}
		})
	}
}
