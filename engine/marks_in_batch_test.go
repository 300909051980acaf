package engine_test

import (
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/state"
)

// hushDetector raises on a "Raise" record and leaves a mark with its
// finding; a "Check" record raises only while no mark is set: a drip that
// a burst already raised is that burst's tail (access-key-enumeration), a
// conclusion one record's finding leaves for a later record. It reads the
// mark as a detector would: with detectors.ReadMark (which shares an
// earlier read of the batch), or, with viaMark, through a mark of its own
// (detectors.Mark, whose answer is the mark before it).
type hushDetector struct{ viaMark bool }

func (hushDetector) Info() detectors.Info {
	return detectors.Info{ID: "hush-test", Title: "t", Severity: detectors.SeverityLow, Techniques: []string{"T1087"}}
}

func (d hushDetector) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	key := ev.Key("hush", "raised")
	switch r.EventName {
	case "Raise":
		return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
			f := detectors.NewFinding(d.Info(), r, detectors.SeverityHigh, 70)
			f.Explanation = "raised"
			f.Marks = []detectors.SetMark{{Key: key, At: r.EventTime, Keep: state.KeepLatest, TTL: time.Hour}}
			return []detectors.Finding{f}, nil
		})
	case "Check":
		var seen detectors.MarkResult
		if d.viaMark {
			seen = d.priorOf(b.Mark(key, r.EventTime, state.KeepLatest, time.Hour))
		} else {
			seen = detectors.ReadMark(b, key)
		}
		return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
			m, err := seen.Get()
			if err != nil || m.Set {
				return nil, err
			}
			f := detectors.NewFinding(d.Info(), r, detectors.SeverityMedium, 50)
			f.Explanation = "checked"
			return []detectors.Finding{f}, nil
		})
	}
	return nil
}

// priorOf answers with the mark a Mark operation found before it ran.
func (hushDetector) priorOf(f *state.Future[state.Mark]) detectors.MarkResult { return f }

// TestFindingMarksReachLaterRecordsOfTheBatch scores records as one batch
// and as a batch each: a Check that comes after Raise's finding left its
// mark stays quiet, in one batch exactly as in a batch each, whether it
// reads the mark (sharing the read of an earlier Check of the batch) or
// marks the key itself. Findings must not depend on how records were
// batched.
func TestFindingMarksReachLaterRecordsOfTheBatch(t *testing.T) {
	for _, c := range []struct {
		viaMark bool
		names   []string
		want    []engine.Outcome
	}{
		{false, []string{"Check", "Raise", "Check"}, []engine.Outcome{engine.OutcomeAlert, engine.OutcomeAlert, engine.OutcomeClean}},
		{true, []string{"Raise", "Check"}, []engine.Outcome{engine.OutcomeAlert, engine.OutcomeClean}},
	} {
		recs := func() [][]byte {
			var out [][]byte
			for i, n := range c.names {
				out = append(out, dt.Base("iam.amazonaws.com", n, t0.Add(time.Duration(i)*time.Minute)).JSON())
			}
			return out
		}
		one, _ := newEngine(t, hushDetector{c.viaMark})
		together := score(t, one, recs()...)
		apart, _ := newEngine(t, hushDetector{c.viaMark})
		var separately []engine.Verdict
		for _, r := range recs() {
			separately = append(separately, score(t, apart, r)...)
		}
		for i, want := range c.want {
			if separately[i].Outcome != want {
				t.Errorf("%v, viaMark=%v, a batch each: record %d %v, want %v", c.names, c.viaMark, i, separately[i].Outcome, want)
			}
			if together[i].Outcome != want {
				t.Errorf("%v, viaMark=%v, one batch: record %d %v, want %v (as in a batch each)", c.names, c.viaMark, i, together[i].Outcome, want)
			}
		}
	}
}
