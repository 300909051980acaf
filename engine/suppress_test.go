package engine_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/state/memory"
)

// newSuppressingEngine returns an engine with the built-in detectors, the
// given suppressions and a metric reader to check what it counted.
func newSuppressingEngine(t *testing.T, sup ...detectors.Suppression) (*engine.Engine, *sdkmetric.ManualReader) {
	t.Helper()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	return engine.New(reg, mem, engine.Options{Suppress: sup, MeterProvider: mp}), reader
}

// suppressedCounts reads iamsentry.findings.suppressed by detector/entry.
func suppressedCounts(t *testing.T, r *sdkmetric.ManualReader) map[[2]string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[[2]string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "iamsentry.findings.suppressed" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				det, _ := dp.Attributes.Value(attribute.Key("detector"))
				entry, _ := dp.Attributes.Value(attribute.Key("entry"))
				out[[2]string{det.AsString(), entry.AsString()}] += dp.Value
			}
		}
	}
	return out
}

func TestSuppression(t *testing.T) {
	terraform := detectors.Suppression{
		Entry: 0, Detector: "*", Principal: "arn:aws:iam::*:role/terraform-*",
		SourceCIDR: netip.MustParsePrefix("192.0.2.0/24"), Reason: "IaC pipeline",
	}
	otherAccount := detectors.Suppression{Entry: 1, Detector: builtin.AdminPolicyAttachedID, Account: "444455556666", Reason: "sandbox account"}
	e, reader := newSuppressingEngine(t, terraform, otherAccount)

	// Generated records: the same admin attachment by a Terraform session
	// from the pipeline's network, from elsewhere, and by a person.
	byPipeline := attachAdmin("app", t0).AsAssumedRole("terraform-ci", "run-1").With("sourceIPAddress", "192.0.2.15")
	byPipelineElsewhere := attachAdmin("app2", t0).AsAssumedRole("terraform-ci", "run-2").With("sourceIPAddress", "203.0.113.99")
	byPerson := attachAdmin("app3", t0)
	inSandbox := attachAdmin("app4", t0).With("userIdentity.accountId", "444455556666").With("recipientAccountId", "444455556666")
	vs := score(t, e, byPipeline.JSON(), byPipelineElsewhere.JSON(), byPerson.JSON(), inSandbox.JSON())

	want := []struct {
		outcome engine.Outcome
		entry   int // -1: not suppressed
	}{
		{engine.OutcomeSuppressed, 0},
		{engine.OutcomeAlert, -1}, // principal matches, source does not: every field must match
		{engine.OutcomeAlert, -1},
		{engine.OutcomeSuppressed, 1},
	}
	for i, w := range want {
		v := vs[i]
		if v.Outcome != w.outcome || len(v.Findings) != 1 {
			t.Fatalf("record %d: %v with %d findings, want %v with 1", i, v.Outcome, len(v.Findings), w.outcome)
		}
		s := v.Findings[0].Suppressed
		switch {
		case w.entry < 0 && s != nil:
			t.Errorf("record %d suppressed by %+v", i, s)
		case w.entry >= 0 && (s == nil || s.Entry != w.entry):
			t.Errorf("record %d: suppressed = %+v, want entry %d", i, s, w.entry)
		}
		if w.entry >= 0 && (v.Score() != 0 || v.Severity() != detectors.SeverityUnknown) {
			t.Errorf("record %d: a suppressed verdict scores %d/%v, want 0/UNKNOWN", i, v.Score(), v.Severity())
		}
	}
	if vs[0].Findings[0].Suppressed.Reason != "IaC pipeline" {
		t.Errorf("reason = %q", vs[0].Findings[0].Suppressed.Reason)
	}

	// Counted per detector and entry, once per scored event: a redelivery
	// returns the remembered suppressed finding and is not counted again.
	again := score(t, e, byPipeline.JSON())
	if again[0].Outcome != engine.OutcomeDuplicate || again[0].Findings[0].Suppressed == nil {
		t.Errorf("redelivery: %v %+v, want DUPLICATE with the suppressed finding", again[0].Outcome, again[0].Findings)
	}
	got := suppressedCounts(t, reader)
	wantCounts := map[[2]string]int64{
		{builtin.AdminPolicyAttachedID, "0"}: 1,
		{builtin.AdminPolicyAttachedID, "1"}: 1,
	}
	if len(got) != len(wantCounts) {
		t.Errorf("suppressed counts = %v, want %v", got, wantCounts)
	}
	for k, n := range wantCounts {
		if got[k] != n {
			t.Errorf("suppressed{%s} = %d, want %d", k, got[k], n)
		}
	}
}

// A suppressed finding must not use up the incident's one alert: the next,
// unsuppressed event of the same incident still alerts.
func TestSuppressedFindingTakesNoThrottle(t *testing.T) {
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	reg, err := detectors.NewRegistry(onceDetector{})
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(reg, mem, engine.Options{Suppress: []detectors.Suppression{
		{Detector: "*", SourceCIDR: netip.MustParsePrefix("192.0.2.0/24"), Reason: "scanner"},
	}})
	// Generated ListBuckets calls by one key: the first from the suppressed
	// network, then two from elsewhere.
	quiet := dt.Base("s3.amazonaws.com", "ListBuckets", t0).With("sourceIPAddress", "192.0.2.1")
	loud := dt.Base("s3.amazonaws.com", "ListBuckets", t0.Add(time.Minute))
	third := dt.Base("s3.amazonaws.com", "ListBuckets", t0.Add(2*time.Minute))
	if vs := score(t, e, quiet.JSON()); vs[0].Outcome != engine.OutcomeSuppressed {
		t.Fatalf("first: %v, want SUPPRESSED", vs[0].Outcome)
	}
	if vs := score(t, e, loud.JSON()); vs[0].Outcome != engine.OutcomeAlert {
		t.Fatalf("after a suppressed finding the key must still alert once; got %v", vs[0].Outcome)
	}
	if vs := score(t, e, third.JSON()); vs[0].Outcome != engine.OutcomeClean {
		t.Fatalf("the key alerts once; third event got %v", vs[0].Outcome)
	}
}

func TestLearnRaisesNothingButLearns(t *testing.T) {
	e, _ := newEngine(t)
	create := dt.IAM("CreateRole", t0, map[string]any{"roleName": "r"})
	attach := attachAdmin("r", t0.Add(time.Minute))
	vs, err := e.Score(context.Background(), engine.Batch{Records: [][]byte{create.JSON(), attach.JSON()}, Learn: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v.Outcome != engine.OutcomeClean || len(v.Findings) != 0 {
			t.Errorf("learning record %d: %v with %d findings, want CLEAN without", i, v.Outcome, len(v.Findings))
		}
	}
	// State learned the creation: a later attachment to the same role is
	// CRITICAL (created within 24 h), not HIGH.
	later := score(t, e, attachAdmin("r", t0.Add(time.Hour)).JSON())
	if later[0].Severity() != detectors.SeverityCritical {
		t.Errorf("after learning, attach = %v, want CRITICAL", later[0].Severity())
	}
	// Learned records are remembered as scored: a live redelivery is a
	// duplicate and not counted again.
	if again := score(t, e, attach.JSON()); again[0].Outcome != engine.OutcomeDuplicate {
		t.Errorf("redelivery of a learned record: %v, want DUPLICATE", again[0].Outcome)
	}
}

func TestReloadSwapsRules(t *testing.T) {
	e, _ := newEngine(t)
	reg := e.Registry()
	off, err := reg.WithEnabled(map[string]bool{builtin.AdminPolicyAttachedID: false})
	if err != nil {
		t.Fatal(err)
	}
	e.Reload(engine.Rules{Registry: off})
	if vs := score(t, e, attachAdmin("a", t0).JSON()); vs[0].Outcome != engine.OutcomeClean {
		t.Errorf("detector disabled by reload still fired: %v", vs[0].Outcome)
	}
	e.Reload(engine.Rules{Registry: reg, Suppress: []detectors.Suppression{{Detector: "*", Account: "111122223333", Reason: "all of it"}}})
	if vs := score(t, e, attachAdmin("b", t0).JSON()); vs[0].Outcome != engine.OutcomeSuppressed {
		t.Errorf("suppression added by reload not applied: %v", vs[0].Outcome)
	}
	if got := e.Rules(); got.Registry != reg || len(got.Suppress) != 1 {
		t.Errorf("Rules() = %+v", got)
	}
}
