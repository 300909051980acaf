package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

var t0 = time.Date(2024, 8, 1, 13, 0, 0, 0, time.UTC)

const adminARN = "arn:aws:iam::aws:policy/AdministratorAccess"

// countingStore counts Exec calls and can be made to fail, as a Redis outage
// would.
type countingStore struct {
	state.Store
	execs int
	fail  bool
}

func (s *countingStore) Exec(ctx context.Context, b *state.Batch) error {
	s.execs++
	if s.fail {
		err := fmt.Errorf("dial tcp 127.0.0.1:1: %w", state.ErrUnavailable)
		b.FailAll(err)
		return err
	}
	return s.Store.Exec(ctx, b)
}

func newEngine(t *testing.T, ds ...detectors.Detector) (*engine.Engine, *countingStore) {
	t.Helper()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	store := &countingStore{Store: mem}
	if len(ds) == 0 {
		ds = builtin.All()
	}
	reg, err := detectors.NewRegistry(ds...)
	if err != nil {
		t.Fatal(err)
	}
	return engine.New(reg, store, engine.Options{}), store
}

func score(t *testing.T, e *engine.Engine, recs ...[]byte) []engine.Verdict {
	t.Helper()
	vs, err := e.Score(context.Background(), engine.Batch{Records: recs})
	if err != nil {
		t.Fatalf("score: %v", err)
	}
	return vs
}

func attachAdmin(role string, at time.Time) dt.Rec {
	return dt.IAM("AttachRolePolicy", at, map[string]any{"roleName": role, "policyArn": adminARN})
}

func TestOneVerdictPerRecordInOrder(t *testing.T) {
	e, _ := newEngine(t)
	clean := dt.Base("sts.amazonaws.com", "GetCallerIdentity", t0)
	alert := attachAdmin("r", t0)
	vs := score(t, e, clean.JSON(), []byte(`{"not json"`), alert.JSON(), []byte(`[]`))
	want := []engine.Outcome{engine.OutcomeClean, engine.OutcomeInvalid, engine.OutcomeAlert, engine.OutcomeInvalid}
	if len(vs) != len(want) {
		t.Fatalf("got %d verdicts for 4 records", len(vs))
	}
	for i, v := range vs {
		if v.Outcome != want[i] {
			t.Errorf("verdict %d: outcome %v, want %v (%s)", i, v.Outcome, want[i], v.Reason)
		}
	}
	if vs[0].EventID != clean.ID() || vs[2].EventID != alert.ID() {
		t.Errorf("verdicts carry the wrong event ids: %q, %q", vs[0].EventID, vs[2].EventID)
	}
	if !strings.Contains(vs[1].Reason, "not JSON") || !strings.Contains(vs[3].Reason, "not an object") {
		t.Errorf("invalid reasons are not precise: %q, %q", vs[1].Reason, vs[3].Reason)
	}
	if vs[2].Score() != 80 || vs[2].Severity() != detectors.SeverityHigh {
		t.Errorf("verdict score/severity = %d/%v, want 80/HIGH", vs[2].Score(), vs[2].Severity())
	}
}

func TestDuplicateReturnsOriginalFindings(t *testing.T) {
	e, _ := newEngine(t)
	create := dt.IAM("CreateRole", t0, map[string]any{"roleName": "r"})
	attach := attachAdmin("r", t0.Add(time.Minute))
	first := score(t, e, create.JSON(), attach.JSON())
	if first[1].Outcome != engine.OutcomeAlert || first[1].Severity() != detectors.SeverityCritical {
		t.Fatalf("first delivery: %v %v, want ALERT CRITICAL", first[1].Outcome, first[1].Severity())
	}
	again := score(t, e, create.JSON(), attach.JSON())
	for i, v := range again {
		if v.Outcome != engine.OutcomeDuplicate {
			t.Errorf("redelivery %d: outcome %v, want DUPLICATE", i, v.Outcome)
		}
	}
	if len(again[1].Findings) != 1 || again[1].Findings[0].Explanation != first[1].Findings[0].Explanation {
		t.Errorf("redelivery must return the original findings; got %+v", again[1].Findings)
	}
	if again[1].Findings[0].EventTime != first[1].Findings[0].EventTime {
		t.Errorf("remembered event time changed: %v vs %v", again[1].Findings[0].EventTime, first[1].Findings[0].EventTime)
	}
}

func TestDuplicateWithinOneBatch(t *testing.T) {
	e, _ := newEngine(t)
	a := attachAdmin("r", t0).JSON()
	vs := score(t, e, a, a)
	if vs[0].Outcome != engine.OutcomeAlert || vs[1].Outcome != engine.OutcomeDuplicate {
		t.Fatalf("outcomes %v, %v; want ALERT, DUPLICATE", vs[0].Outcome, vs[1].Outcome)
	}
	if len(vs[1].Findings) != 1 {
		t.Errorf("the duplicate carries the original's findings; got %d", len(vs[1].Findings))
	}
}

func TestSameIDDifferentEventIsNotDuplicate(t *testing.T) {
	// Rule-test fixtures reuse ids such as "1"; a retry never changes the
	// event's name or time, so those tell such records apart.
	e, _ := newEngine(t)
	a := dt.Base("sts.amazonaws.com", "GetCallerIdentity", t0).With("eventID", "1")
	b := attachAdmin("r", t0.Add(time.Second)).With("eventID", "1")
	vs := score(t, e, a.JSON(), b.JSON())
	if vs[1].Outcome != engine.OutcomeAlert {
		t.Errorf("outcome %v, want ALERT", vs[1].Outcome)
	}
}

func TestNoAlertPathIsOneRoundTrip(t *testing.T) {
	e, store := newEngine(t)
	var recs [][]byte
	for i := range 200 {
		recs = append(recs, dt.Base("s3.amazonaws.com", "ListBuckets", t0.Add(time.Duration(i)*time.Second)).JSON())
	}
	score(t, e, recs...)
	if store.execs != 1 {
		t.Errorf("a batch with no alert cost %d round trips, want 1", store.execs)
	}
	store.execs = 0
	score(t, e, attachAdmin("r", t0).JSON())
	// Claims; throttles with the first step of the finding's story; remembering.
	if store.execs != 3 {
		t.Errorf("a batch with an alert cost %d round trips, want 3", store.execs)
	}
}

func TestStoreOutageAcknowledgesNothing(t *testing.T) {
	e, store := newEngine(t)
	store.fail = true
	vs, err := e.Score(context.Background(), engine.Batch{Records: [][]byte{attachAdmin("r", t0).JSON()}})
	if !engine.IsUnavailable(err) {
		t.Fatalf("error %v must wrap state.ErrUnavailable", err)
	}
	if vs != nil {
		t.Errorf("no verdict may be returned when the store failed; got %d", len(vs))
	}
	store.fail = false
	vs = score(t, e, attachAdmin("r", t0).JSON())
	if vs[0].Outcome != engine.OutcomeAlert {
		t.Errorf("after the outage the same record scores %v, want ALERT", vs[0].Outcome)
	}
}

// onceDetector raises a throttled finding on every ListBuckets.
type onceDetector struct{}

func (onceDetector) Info() detectors.Info {
	return detectors.Info{ID: "once-test", Title: "t", Severity: detectors.SeverityLow, Techniques: []string{"T1619"}}
}

func (d onceDetector) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	if ev.Record.EventName != "ListBuckets" {
		return nil
	}
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		f := detectors.NewFinding(d.Info(), ev.Record, detectors.SeverityLow, 10)
		f.Explanation = "listed"
		f.Once = &detectors.Once{Key: ev.Key(ev.Record.UserIdentity.AccessKeyID, "once"), TTL: time.Hour}
		return []detectors.Finding{f}, nil
	})
}

func TestOncePerKey(t *testing.T) {
	e, _ := newEngine(t, onceDetector{})
	a := dt.Base("s3.amazonaws.com", "ListBuckets", t0)
	b := dt.Base("s3.amazonaws.com", "ListBuckets", t0.Add(time.Minute))
	vs := score(t, e, a.JSON(), b.JSON())
	if vs[0].Outcome != engine.OutcomeAlert || vs[1].Outcome != engine.OutcomeClean {
		t.Fatalf("outcomes %v, %v; want ALERT then CLEAN (one finding per key)", vs[0].Outcome, vs[1].Outcome)
	}
	// A retry of the throttled-out record stays clean; a retry of the
	// winner keeps its finding.
	vs = score(t, e, b.JSON(), a.JSON())
	if len(vs[0].Findings) != 0 || len(vs[1].Findings) != 1 {
		t.Errorf("retries: %d and %d findings, want 0 and 1", len(vs[0].Findings), len(vs[1].Findings))
	}
}

// markingDetector raises on every record and asks for a mark, as
// access-key-new-location does when it sees a key used from a new place.
type markingDetector struct{ onceDetector }

func (markingDetector) Info() detectors.Info {
	return detectors.Info{ID: "marking-test", Title: "t", Severity: detectors.SeverityLow, Techniques: []string{"T1078"}}
}

func (d markingDetector) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	eval := d.onceDetector.Observe(ev, b)
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		fs, err := eval.Findings()
		for i := range fs {
			fs[i].Marks = []detectors.SetMark{{Key: ev.Key("k", "marked"), At: ev.Record.EventTime, Keep: state.KeepLatest, TTL: time.Hour}}
		}
		return fs, err
	})
}

func TestFindingMarksAreSetWhenRaised(t *testing.T) {
	e, store := newEngine(t, markingDetector{})
	// The second record loses its throttle; its mark is set all the same.
	score(t, e, dt.Base("s3.amazonaws.com", "ListBuckets", t0).JSON(),
		dt.Base("s3.amazonaws.com", "ListBuckets", t0.Add(time.Minute)).JSON())
	var b state.Batch
	got := b.ReadMark(state.Key{Identity: "k", Name: "marked"})
	if err := store.Exec(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	m, err := got.Get()
	if err != nil || !m.Set || !m.At.Equal(t0.Add(time.Minute)) {
		t.Errorf("mark = %+v, %v; want set at %v (the latest raising event)", m, err, t0.Add(time.Minute))
	}
}

func TestTenantsDoNotShareState(t *testing.T) {
	e, _ := newEngine(t)
	create := dt.IAM("CreateRole", t0, map[string]any{"roleName": "r"}).JSON()
	attach := attachAdmin("r", t0.Add(time.Minute)).JSON()
	if _, err := e.Score(context.Background(), engine.Batch{Tenant: "a", Records: [][]byte{create}}); err != nil {
		t.Fatal(err)
	}
	vs, err := e.Score(context.Background(), engine.Batch{Tenant: "b", Records: [][]byte{create, attach}})
	if err != nil {
		t.Fatal(err)
	}
	if vs[0].Outcome == engine.OutcomeDuplicate {
		t.Errorf("tenant b's record was deduplicated against tenant a's")
	}
	if vs[1].Severity() != detectors.SeverityCritical {
		t.Errorf("tenant b: severity %v, want CRITICAL from its own CreateRole", vs[1].Severity())
	}
}

func TestDetectorErrorSparesOthers(t *testing.T) {
	for _, bad := range []detectors.Detector{failingDetector{}, panickingDetector{inObserve: true}, panickingDetector{}} {
		e, _ := newEngine(t, bad, dt.Must(builtin.NewAdminPolicyAttached(detectors.Config{})))
		vs := score(t, e, attachAdmin("r", t0).JSON())
		if vs[0].Outcome != engine.OutcomeAlert || len(vs[0].Findings) != 1 {
			t.Errorf("%T must not hide another detector's finding: %v, %d findings", bad, vs[0].Outcome, len(vs[0].Findings))
		}
	}
}

type panickingDetector struct{ inObserve bool }

func (panickingDetector) Info() detectors.Info {
	return detectors.Info{ID: "panicking-test", Title: "t", Severity: detectors.SeverityLow, Techniques: []string{"T1098"}}
}

func (d panickingDetector) Observe(*detectors.Event, *state.Batch) detectors.Evaluation {
	if d.inObserve {
		panic("observe")
	}
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) { panic("findings") })
}

type failingDetector struct{}

func (failingDetector) Info() detectors.Info {
	return detectors.Info{ID: "failing-test", Title: "t", Severity: detectors.SeverityLow, Techniques: []string{"T1098"}}
}

func (failingDetector) Observe(*detectors.Event, *state.Batch) detectors.Evaluation {
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) { return nil, errors.New("boom") })
}

func TestStatsCountRoundTrips(t *testing.T) {
	e, store := newEngine(t)
	score(t, e, dt.Base("sts.amazonaws.com", "GetCallerIdentity", t0).JSON(), attachAdmin("r", t0).JSON())
	score(t, e, dt.Base("sts.amazonaws.com", "GetCallerIdentity", t0).JSON())
	st := e.Stats()
	// Batch one alerts (three round trips, see TestNoAlertPathIsOneRoundTrip), batch two is clean (one).
	if st.Batches != 2 || st.Records != 3 || st.RoundTrips != 4 || int(st.RoundTrips) != store.execs {
		t.Errorf("stats = %+v (store saw %d execs), want 2 batches, 3 records, 4 round trips", st, store.execs)
	}
	if st.QuietBatches != 1 || st.QuietRoundTrips != 1 {
		t.Errorf("no-alert path: %d batches took %d round trips, want 1 and 1", st.QuietBatches, st.QuietRoundTrips)
	}
}

// eventDetector raises an unthrottled finding on every DeleteBucket.
type eventDetector struct{}

func (eventDetector) Info() detectors.Info {
	return detectors.Info{ID: "event-test", Title: "t", Severity: detectors.SeverityLow, Techniques: []string{"T1485"}}
}

func (d eventDetector) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	if ev.Record.EventName != "DeleteBucket" {
		return nil
	}
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		f := detectors.NewFinding(d.Info(), ev.Record, detectors.SeverityLow, 10)
		f.Explanation = "deleted"
		return []detectors.Finding{f}, nil
	})
}

func TestIncidentNames(t *testing.T) {
	e, _ := newEngine(t, onceDetector{}, eventDetector{}, dt.Must(builtin.NewAdminPolicyAttached(detectors.Config{})))
	vs := score(t, e, dt.Base("s3.amazonaws.com", "ListBuckets", t0).JSON(),
		dt.Base("s3.amazonaws.com", "DeleteBucket", t0).With("eventID", "evt-7").JSON(),
		attachAdmin("r", t0).With("eventID", "evt-8").JSON())
	if got := vs[0].Findings[0].Incident; got != "once-test/AKIAEXAMPLEALICE01/once" {
		t.Errorf("throttled finding's incident = %q, want detector/identity/name of its Once key", got)
	}
	if got := vs[1].Findings[0].Incident; got != "event-test/event/111122223333/evt-7/DeleteBucket/2024-08-01T13:00:00Z" {
		t.Errorf("per-event finding's incident = %q, want detector/event/account/id/name/time", got)
	}
	// A detector that names its incident keeps it: an admin grant is one
	// incident whichever of its creation and grant records arrives first.
	if got := vs[2].Findings[0].Incident; got != "admin-policy-attached/iam:111122223333:role/r/admin-grant:"+strconv.FormatInt(t0.Unix(), 10) {
		t.Errorf("named incident = %q, want the detector's", got)
	}
}

// lostReplyStore executes batches but, when lose is n > 0, reports the nth
// from then on failed, as a store connection that dies after the server
// ran the pipeline: the state changed, the reply never came.
type lostReplyStore struct {
	state.Store
	lose  int
	execs int // batches executed
}

func (s *lostReplyStore) Exec(ctx context.Context, b *state.Batch) error {
	err := s.Store.Exec(ctx, b)
	s.execs++
	if s.lose > 0 && err == nil {
		if s.lose--; s.lose == 0 {
			return fmt.Errorf("connection reset after the pipeline ran: %w", state.ErrUnavailable)
		}
	}
	return err
}

// newLostReplyEngine returns an engine with the built-in detectors on a
// lostReplyStore over the embedded store.
func newLostReplyEngine(t *testing.T) (*engine.Engine, *lostReplyStore) {
	t.Helper()
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	store := &lostReplyStore{Store: mem}
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	return engine.New(reg, store, engine.Options{}), store
}

// TestLostReplyRecoversFindings scores a batch whose first round trip ran
// in the store but whose reply was lost; the retry must bring back the
// findings the first attempt would have had.
func TestLostReplyRecoversFindings(t *testing.T) {
	e, store := newLostReplyEngine(t)
	// Generated: a role created, then given AdministratorAccess (CRITICAL),
	// and a key reading 16 distinct things in 4 services (enumeration).
	recs := [][]byte{
		dt.IAM("CreateRole", t0, map[string]any{"roleName": "r"}).JSON(),
		attachAdmin("r", t0.Add(time.Minute)).JSON(),
	}
	services := []string{"iam", "ec2", "s3", "rds"}
	for i := range 16 {
		svc := services[i%4]
		recs = append(recs, dt.Base(svc+".amazonaws.com", fmt.Sprintf("DescribeThing%02d", i), t0.Add(time.Duration(i)*10*time.Second)).With("readOnly", true).JSON())
	}
	store.lose = 1
	if _, err := e.Score(context.Background(), engine.Batch{Records: recs}); !engine.IsUnavailable(err) {
		t.Fatalf("first attempt: err = %v, want unavailable", err)
	}
	vs := score(t, e, recs...)
	got := map[string]detectors.Severity{}
	for _, v := range vs {
		for _, f := range v.Findings {
			got[f.DetectorID] = max(got[f.DetectorID], f.Severity)
		}
	}
	if got[builtin.AdminPolicyAttachedID] != detectors.SeverityCritical {
		t.Errorf("admin-policy-attached after a lost reply: %v, want CRITICAL", got[builtin.AdminPolicyAttachedID])
	}
	if got[builtin.AccessKeyEnumerationID] == detectors.SeverityUnknown {
		t.Errorf("access-key-enumeration lost with the reply; findings %v", got)
	}
	// A third delivery returns what was remembered and raises nothing new.
	again := score(t, e, recs...)
	n := 0
	for _, v := range again {
		if v.Outcome != engine.OutcomeDuplicate {
			t.Errorf("third delivery: %v, want DUPLICATE", v.Outcome)
		}
		n += len(v.Findings)
	}
	if n != 2 {
		t.Errorf("third delivery carries %d findings, want the 2 remembered", n)
	}
}

// TestLostReplyRecoversNovelty is TestLostReplyRecoversFindings for a
// first-seen detector: the retry must still see the network as new,
// because its own first attempt is what made it known.
func TestLostReplyRecoversNovelty(t *testing.T) {
	e, store := newLostReplyEngine(t)
	// Generated: alice's key used from one network for eight days, then
	// from a network never seen.
	var history [][]byte
	for d := range 8 {
		history = append(history, dt.Base("s3.amazonaws.com", "GetObject", t0.Add(time.Duration(d)*24*time.Hour)).With("sourceIPAddress", "198.51.100.7").JSON())
	}
	score(t, e, history...)
	fresh := dt.Base("s3.amazonaws.com", "GetObject", t0.Add(8*24*time.Hour)).With("sourceIPAddress", "203.0.113.50").JSON()
	store.lose = 1
	if _, err := e.Score(context.Background(), engine.Batch{Records: [][]byte{fresh}}); !engine.IsUnavailable(err) {
		t.Fatalf("first attempt: err = %v, want unavailable", err)
	}
	vs := score(t, e, fresh)
	if len(vs[0].Findings) != 1 || vs[0].Findings[0].DetectorID != builtin.AccessKeyNewLocationID {
		t.Fatalf("retry after a lost reply: %v %+v, want the access-key-new-location finding", vs[0].Outcome, vs[0].Findings)
	}
}
