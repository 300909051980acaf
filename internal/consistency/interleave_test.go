package consistency_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// Deterministic interleavings of two replicas on one store. Where
// scoreConcurrently lets the scheduler pick the order, these tests pick it:
// each replica scores one batch, and a turnstile lets their store round
// trips (the batch's reads and writes, then the throttles and marks of
// settle, then the remembering) through in a given order. Every split of a
// burst over the two replicas, in every such order, must give the
// incidents, at the highest severity, that scoring it record by record in
// event time gives (issue 13: caller-identity-recon was HIGH or MEDIUM
// depending on which batch settled first).

// turnstile lets the Exec calls of several replicas through one at a time,
// in the order of sched (replica ids); a replica that has finished is
// skipped, and once sched is used up the calls go through as they come.
type turnstile struct {
	mu    sync.Mutex
	cond  *sync.Cond
	sched []int
	done  map[int]bool
}

func newTurnstile(sched []int) *turnstile {
	ts := &turnstile{sched: slices.Clone(sched), done: map[int]bool{}}
	ts.cond = sync.NewCond(&ts.mu)
	return ts
}

// finish marks replica id done, so the schedule stops waiting for it.
func (ts *turnstile) finish(id int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.done[id] = true
	ts.cond.Broadcast()
}

// gatedStore is a replica's view of the shared store through a turnstile.
type gatedStore struct {
	state.Store
	ts *turnstile
	id int
}

func (g gatedStore) Exec(ctx context.Context, b *state.Batch) error {
	ts := g.ts
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for {
		for len(ts.sched) > 0 && ts.done[ts.sched[0]] {
			ts.sched = ts.sched[1:]
		}
		if len(ts.sched) == 0 || ts.sched[0] == g.id {
			break
		}
		ts.cond.Wait()
	}
	err := g.Store.Exec(ctx, b)
	if len(ts.sched) > 0 {
		ts.sched = ts.sched[1:]
	}
	ts.cond.Broadcast()
	return err
}

// schedules are orders of the two replicas' round trips: one replica
// entirely first, strictly alternating either way, and each replica's
// first round trip before the other's settle.
var schedules = [][]int{
	{0, 0, 0, 0, 1, 1, 1, 1},
	{1, 1, 1, 1, 0, 0, 0, 0},
	{0, 1, 0, 1, 0, 1, 0, 1},
	{1, 0, 1, 0, 1, 0, 1, 0},
	{0, 1, 1, 0, 1, 0, 1, 0},
	{1, 0, 0, 1, 0, 1, 0, 1},
}

// reconDetectors are caller-identity-recon with access-key-new-location,
// whose mark recon used to read.
func reconDetectors(t *testing.T) []detectors.Detector {
	cfg := detectors.Config{Settings: &detectors.Settings{}}
	recon, err := builtin.NewCallerIdentityRecon(cfg)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := builtin.NewAccessKeyNewLocation(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return []detectors.Detector{recon, loc}
}

const (
	office = "198.51.100.10" // the principal's habitual network
	vps    = "203.0.113.66"  // a network it never used
	vps2   = "192.0.2.200"   // another
)

// devCall is action by the developer's long-term key from ip.
func devCall(action string, at time.Time, ip string) dt.Rec {
	return keyCallRec("AKIAEXAMPLEDEV00001", action, at).With("sourceIPAddress", ip).
		With("userIdentity.arn", "arn:aws:iam::111122223333:user/dev").With("userIdentity.userName", "dev")
}

func keyCallRec(ak, action string, at time.Time) dt.Rec {
	svc, name, _ := strings.Cut(action, ":")
	return dt.Base(svc+".amazonaws.com", name, at).With("userIdentity.accessKeyId", ak)
}

// devHabit is ten days of the developer's whoami, `aws s3 ls` and an IAM
// read from the office, ending the day before t0.
func devHabit(t0 time.Time) []dt.Rec {
	var out []dt.Rec
	for day := 10; day >= 1; day-- {
		at := t0.Add(-time.Duration(day) * 24 * time.Hour)
		out = append(out, devCall("sts:GetCallerIdentity", at, office), devCall("s3:ListBuckets", at.Add(20*time.Second), office),
			devCall("iam:GetRole", at.Add(40*time.Second), office))
	}
	return out
}

type interleaveCase struct {
	name  string
	burst []dt.Rec
	want  detectors.Severity // highest severity of the one recon incident; 0: none
}

func reconInterleaveCases(t0 time.Time) []interleaveCase {
	return []interleaveCase{
		{name: "probe and secrets listing from one new network is HIGH", want: detectors.SeverityHigh, burst: []dt.Rec{
			devCall("sts:GetCallerIdentity", t0, vps), devCall("secretsmanager:ListSecrets", t0.Add(20*time.Second), vps),
			devCall("secretsmanager:GetSecretValue", t0.Add(40*time.Second), vps)}},
		// issue 13's role/gha-deploy-service-06: ordinary discovery just
		// before makes the probe raise MEDIUM first; the secrets listing
		// from the probe's new network raises the incident to HIGH (the
		// throttle kept the first severity).
		{name: "own discovery, then probe and secrets listing from a new network is HIGH", want: detectors.SeverityHigh, burst: []dt.Rec{
			devCall("ec2:DescribeInstances", t0.Add(-5*time.Minute), office), devCall("sts:GetCallerIdentity", t0, vps),
			devCall("secretsmanager:ListSecrets", t0.Add(20*time.Second), vps), devCall("secretsmanager:GetSecretValue", t0.Add(40*time.Second), vps)}},
		// issue 13's user/dev-03: the developer's own IAM read from the
		// office, then someone else's probe and listing from a new network.
		// The sensitive read is not the newcomer's: MEDIUM in every order
		// (it was HIGH when the probe saw the read, MEDIUM otherwise).
		{name: "own IAM read, then a probe and listing from a new network is MEDIUM", want: detectors.SeverityMedium, burst: []dt.Rec{
			devCall("iam:GetRole", t0.Add(-14*time.Minute), office), devCall("sts:GetCallerIdentity", t0, vps),
			devCall("s3:ListBuckets", t0.Add(45*time.Second), vps)}},
		{name: "probe from one new network, secrets from another, is MEDIUM", want: detectors.SeverityMedium, burst: []dt.Rec{
			devCall("sts:GetCallerIdentity", t0, vps), devCall("secretsmanager:ListSecrets", t0.Add(30*time.Second), vps2)}},
		// Quiet twin: the same calls from the office are the habit.
		{name: "habitual whoami, listing and IAM read from the office are quiet", burst: []dt.Rec{
			devCall("iam:GetRole", t0.Add(-14*time.Minute), office), devCall("sts:GetCallerIdentity", t0, office),
			devCall("s3:ListBuckets", t0.Add(45*time.Second), office)}},
	}
}

// TestReconSeverityAcrossInterleavings: every split of each burst over
// two replicas, each replica's batch in either order, through every
// schedule of their round trips, raises the incident the record-by-record
// event-time scoring raises, at the same highest severity; on the embedded
// store and on a real redis-server.
func TestReconSeverityAcrossInterleavings(t *testing.T) { onStores(t, checkReconInterleavings) }

// onStores runs check on fresh embedded stores, then (unless -short) on
// fresh stores of one real redis-server.
func onStores(t *testing.T, check func(*testing.T, func(testing.TB) state.Store)) {
	t.Run("memory", func(t *testing.T) {
		check(t, func(tb testing.TB) state.Store { return newMemory(tb.(*testing.T)) })
	})
	t.Run("redis", func(t *testing.T) {
		if testing.Short() {
			t.Skip("starts a redis-server")
		}
		check(t, rstore.Factory(t))
	})
}

func checkReconInterleavings(t *testing.T, open func(testing.TB) state.Store) {
	t0 := time.Date(2026, 3, 13, 15, 33, 47, 0, time.UTC)
	history := devHabit(t0)
	ctx := context.Background()
	for _, c := range reconInterleaveCases(t0) {
		t.Run(c.name, func(t *testing.T) {
			seeded := func() state.Store {
				s := open(t)
				h := dt.NewWithStore(t, s, reconDetectors(t)...)
				for day := 0; day < len(history); day += 3 {
					if fs := dt.Only(builtin.CallerIdentityReconID, h.Score(history[day:day+3]...)); day > 0 && len(fs) > 0 {
						t.Fatalf("habit, day %d: %s", day/3, fs[0].Explanation)
					}
				}
				return s
			}
			serial := reconTopSeverity(t, dt.NewWithStore(t, seeded(), reconDetectors(t)...).Stream(c.burst...))
			if serial != c.want {
				t.Fatalf("record by record in event time: highest severity %v, want %v", serial, c.want)
			}
			runs := 0
			for mask := range 1 << len(c.burst) {
				for _, reversed := range []bool{false, true} {
					parts := splitBurst(c.burst, mask, reversed)
					for _, sched := range schedules {
						store := seeded()
						got := reconTopSeverity(t, scoreInterleaved(ctx, t, store, parts, sched))
						runs++
						if got != c.want {
							t.Errorf("split %0*b (reversed %v), schedule %v: highest severity %v, want %v (record by record: %v)",
								len(c.burst), mask, reversed, sched, got, c.want, serial)
						}
					}
				}
			}
			t.Logf("%d interleavings", runs)
		})
	}
}

// splitBurst gives record i to replica 1 when bit i of mask is set, to
// replica 0 otherwise; each replica's batch keeps event-time order, or
// reverses it.
func splitBurst(burst []dt.Rec, mask int, reversed bool) [2][][]byte {
	var parts [2][][]byte
	for i, r := range burst {
		parts[mask>>i&1] = append(parts[mask>>i&1], r.JSON())
	}
	if reversed {
		for _, p := range parts {
			slices.Reverse(p)
		}
	}
	return parts
}

// scoreInterleaved scores parts[i] as one batch of replica i, both at
// once, their store round trips let through in the order of sched.
func scoreInterleaved(ctx context.Context, t *testing.T, store state.Store, parts [2][][]byte, sched []int) []engine.Verdict {
	t.Helper()
	return scoreInterleavedWith(ctx, t, store, parts, sched, reconDetectors)
}

// scoreInterleavedWith is scoreInterleaved with the detectors of ds.
func scoreInterleavedWith(ctx context.Context, t *testing.T, store state.Store, parts [2][][]byte, sched []int,
	ds func(*testing.T) []detectors.Detector) []engine.Verdict {
	t.Helper()
	ts := newTurnstile(sched)
	reg, err := detectors.NewRegistry(ds(t)...)
	if err != nil {
		t.Fatal(err)
	}
	var out [2][]engine.Verdict
	var errs [2]error
	var wg sync.WaitGroup
	for i := range 2 {
		e := engine.New(reg, gatedStore{store, ts, i}, engine.Options{})
		wg.Go(func() {
			defer ts.finish(i)
			if len(parts[i]) == 0 {
				return
			}
			out[i], errs[i] = e.Score(ctx, engine.Batch{Records: parts[i]})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return append(out[0], out[1]...)
}

// reconTopSeverity is the highest severity of the one caller-identity-recon
// incident of vs, 0 when none was raised; more than one incident fails t.
func reconTopSeverity(t *testing.T, vs []engine.Verdict) detectors.Severity {
	t.Helper()
	var top detectors.Severity
	incidents := map[string]bool{}
	for _, f := range dt.Only(builtin.CallerIdentityReconID, vs) {
		incidents[f.Incident] = true
		top = max(top, f.Severity)
	}
	if len(incidents) > 1 {
		t.Errorf("want at most one incident, got %v", fmt.Sprint(incidents))
	}
	return top
}
