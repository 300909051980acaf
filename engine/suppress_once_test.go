package engine_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/state/memory"
)

// One incident suppresses once: every event of a suppressed burst raises
// the same throttled finding, and only the first is reported (and counted)
// as suppressed. Before suppressed findings took a throttle, 12 terraform
// plans reported 204 suppressed findings.
func TestSuppressedIncidentSuppressesOnce(t *testing.T) {
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	reg, err := detectors.NewRegistry(onceDetector{})
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(reg, mem, engine.Options{Suppress: []detectors.Suppression{
		{Detector: "*", SourceCIDR: netip.MustParsePrefix("192.0.2.0/24"), Reason: "scanner"},
	}})
	// Generated ListBuckets calls by one key from the suppressed network:
	// two batches of three (the throttle must hold within a batch and
	// across batches), then one from elsewhere.
	quiet := func(i int) []byte {
		return dt.Base("s3.amazonaws.com", "ListBuckets", t0.Add(time.Duration(i)*time.Second)).With("sourceIPAddress", "192.0.2.1").JSON()
	}
	var outcomes []engine.Outcome
	for _, b := range [][][]byte{{quiet(0), quiet(1), quiet(2)}, {quiet(3), quiet(4), quiet(5)}} {
		for _, v := range score(t, e, b...) {
			outcomes = append(outcomes, v.Outcome)
		}
	}
	want := []engine.Outcome{engine.OutcomeSuppressed, engine.OutcomeClean, engine.OutcomeClean, engine.OutcomeClean, engine.OutcomeClean, engine.OutcomeClean}
	for i := range want {
		if outcomes[i] != want[i] {
			t.Fatalf("outcomes = %v, want %v: one suppressed finding per incident", outcomes, want)
		}
	}
	// The suppressed throttle is its own: a stolen credential's call from
	// elsewhere, in the same incident, still raises the incident's alert.
	loud := dt.Base("s3.amazonaws.com", "ListBuckets", t0.Add(time.Minute))
	if vs := score(t, e, loud.JSON()); vs[0].Outcome != engine.OutcomeAlert {
		t.Fatalf("unsuppressed event after a suppressed incident: %v, want ALERT", vs[0].Outcome)
	}
}
