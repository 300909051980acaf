package detectortest

import (
	"context"
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// Harness scores records through the real engine.
type Harness struct {
	t      testing.TB
	Engine *engine.Engine
	Store  state.Store
	Tenant string
}

// New returns a harness running ds on a fresh embedded store.
func New(t testing.TB, ds ...detectors.Detector) *Harness {
	t.Helper()
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	return NewWithStore(t, store, ds...)
}

// NewWithStore returns a harness running ds on store, so a test can run the
// same scenario on every backend.
func NewWithStore(t testing.TB, store state.Store, ds ...detectors.Detector) *Harness {
	t.Helper()
	reg, err := detectors.NewRegistry(ds...)
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	return &Harness{t: t, Engine: engine.New(reg, store, engine.Options{}), Store: store}
}

// Score scores records as one batch and returns their verdicts; it fails the
// test when scoring fails.
func (h *Harness) Score(records ...Rec) []engine.Verdict {
	h.t.Helper()
	raws := make([][]byte, len(records))
	for i, r := range records {
		raws[i] = r.JSON()
	}
	return h.ScoreRaw(raws...)
}

// ScoreRaw scores raw JSON records as one batch.
func (h *Harness) ScoreRaw(raws ...[]byte) []engine.Verdict {
	h.t.Helper()
	vs, err := h.Engine.Score(context.Background(), engine.Batch{Tenant: h.Tenant, Records: raws})
	if err != nil {
		h.t.Fatalf("score: %v", err)
	}
	if len(vs) != len(raws) {
		h.t.Fatalf("score: %d verdicts for %d records", len(vs), len(raws))
	}
	return vs
}

// Stream scores records one batch each, in order, as a live stream would,
// and returns all verdicts.
func (h *Harness) Stream(records ...Rec) []engine.Verdict {
	h.t.Helper()
	var out []engine.Verdict
	for _, r := range records {
		out = append(out, h.Score(r)...)
	}
	return out
}

// Only returns the findings of detector id in vs, in order.
func Only(id string, vs []engine.Verdict) []detectors.Finding {
	var out []detectors.Finding
	for _, v := range vs {
		for _, f := range v.Findings {
			if f.DetectorID == id {
				out = append(out, f)
			}
		}
	}
	return out
}

// Must returns d, or panics with err: for building a detector from a
// constructor in test set-up, where a rejected default is a bug.
func Must(d detectors.Detector, err error) detectors.Detector {
	if err != nil {
		panic(err)
	}
	return d
}
