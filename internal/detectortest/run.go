package detectortest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// Contract describes what Run needs to check a detector.
type Contract struct {
	// New returns a fresh detector with the settings under test.
	New func() detectors.Detector
	// Loud is a stream of records, in order, that raises at least one
	// finding of the detector.
	Loud []Rec
	// Quiet is a stream of records, in order, that the detector must not
	// raise anything on.
	Quiet []Rec
	// Unrelated are records the detector must queue nothing for. Nil means
	// the default set: other services' calls (S3, EC2) and an AWS service
	// caller. A detector that reads every authenticated call, such as one
	// keyed on source location, lists what it skips instead.
	Unrelated []Rec
}

// Run checks the rules every detector keeps. Each failure names the rule.
func Run(t *testing.T, c Contract) {
	t.Run("info is valid", func(t *testing.T) {
		if err := detectors.ValidateInfo(c.New().Info()); err != nil {
			t.Errorf("rule: Info must be valid: %v", err)
		}
	})
	t.Run("loud stream raises findings of the detector", func(t *testing.T) {
		checkFindings(t, c, New(t, c.New()).Stream(c.Loud...))
	})
	t.Run("quiet stream raises nothing", func(t *testing.T) {
		if fs := Only(c.New().Info().ID, New(t, c.New()).Stream(c.Quiet...)); len(fs) > 0 {
			t.Errorf("rule: the quiet stream must raise nothing; got %d findings, first: %s", len(fs), fs[0].Explanation)
		}
	})
	t.Run("unrelated events queue nothing", func(t *testing.T) {
		checkIgnores(t, c.New(), c.Unrelated)
	})
	t.Run("replicas agree", func(t *testing.T) {
		checkReplicas(t, c)
	})
	t.Run("safe for concurrent use", func(t *testing.T) {
		checkConcurrent(t, c)
	})
}

func checkFindings(t *testing.T, c Contract, vs []engine.Verdict) {
	info := c.New().Info()
	fs := Only(info.ID, vs)
	if len(fs) == 0 {
		t.Fatalf("rule: the loud stream must raise at least one %s finding; verdicts: %v", info.ID, outcomes(vs))
	}
	byID := map[string]Rec{}
	for _, r := range c.Loud {
		byID[r.ID()] = r
	}
	for _, f := range fs {
		if f.Severity < detectors.SeverityInfo || f.Severity > detectors.SeverityCritical {
			t.Errorf("rule: a finding has a valid severity; got %v", f.Severity)
		}
		if f.Score < 0 || f.Score > 100 {
			t.Errorf("rule: a finding's score lies in 0–100; got %d", f.Score)
		}
		if f.Title == "" || f.Explanation == "" {
			t.Errorf("rule: a finding has a title and an explanation; got %q / %q", f.Title, f.Explanation)
		}
		for _, tech := range info.Techniques {
			if !slices.Contains(f.Techniques, tech) {
				t.Errorf("rule: a finding carries the detector's techniques; %s missing from %v", tech, f.Techniques)
			}
		}
		r, ok := byID[f.EventID]
		if !ok {
			t.Errorf("rule: a finding names the event it was raised on; event id %q is not in the stream", f.EventID)
			continue
		}
		if f.EventName != r["eventName"] || f.EventTime.Format("2006-01-02T15:04:05Z") != r["eventTime"] {
			t.Errorf("rule: a finding carries its event's name and time; got %s at %v for %v at %v",
				f.EventName, f.EventTime, r["eventName"], r["eventTime"])
		}
	}
}

// checkIgnores feeds events the detector has no business with (other
// services, reads) and checks that it queues no state operation for them.
func checkIgnores(t *testing.T, d detectors.Detector, unrelated []Rec) {
	if unrelated == nil {
		unrelated = []Rec{
			Base("s3.amazonaws.com", "PutObject", fixedTime).With("readOnly", false),
			Base("ec2.amazonaws.com", "RunInstances", fixedTime),
			Base("kms.amazonaws.com", "Decrypt", fixedTime).With("sourceIPAddress", "kms.amazonaws.com"),
		}
	}
	for _, r := range unrelated {
		rec, err := cloudtrail.Parse(r.JSON(), cloudtrail.Options{})
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		var b state.Batch
		if ev := d.Observe(&detectors.Event{Record: rec}, &b); ev != nil || b.Len() > 0 {
			t.Errorf("rule: a detector ignores events it has no use for; %s/%s queued %d ops",
				rec.EventSource, rec.EventName, b.Len())
		}
	}
}

// checkReplicas scores the loud stream through two engines sharing one
// store, alternating between them, and compares with one engine: a detector
// with private per-identity memory makes them disagree.
func checkReplicas(t *testing.T, c Contract) {
	one := New(t, c.New()).Stream(c.Loud...)
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	a, b := NewWithStore(t, store, c.New()), NewWithStore(t, store, c.New())
	var two []engine.Verdict
	for i, r := range c.Loud {
		h := a
		if i%2 == 1 {
			h = b
		}
		two = append(two, h.Score(r)...)
	}
	if got, want := summary(two), summary(one); !slices.Equal(got, want) {
		t.Errorf("rule: two replicas sharing a store give the findings of one;\n one: %v\n two: %v", want, got)
	}
}

func checkConcurrent(t *testing.T, c Contract) {
	h := New(t, c.New())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, r := range c.Loud {
				h.Score(cloneWithFreshID(r))
			}
		})
	}
	wg.Wait()
}

func cloneWithFreshID(r Rec) Rec {
	out := Rec{}
	for k, v := range r {
		out[k] = v
	}
	return out.With("eventID", FreshID())
}

func summary(vs []engine.Verdict) []string {
	var out []string
	for _, v := range vs {
		s := v.EventID + " " + v.Outcome.String()
		for _, f := range v.Findings {
			s += fmt.Sprintf(" %s/%s", f.DetectorID, f.Severity)
		}
		out = append(out, s)
	}
	return out
}

func outcomes(vs []engine.Verdict) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Outcome.String()+" "+v.Reason)
	}
	return out
}
