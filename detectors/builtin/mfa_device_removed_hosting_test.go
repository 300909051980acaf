package builtin_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// Generated scenario: alice, an IAM user with a month of office history
// (203.0.113.10, AS64500), is used from a VPS (192.0.2.50, AS64511, declared
// a hosting network here) and a minute later her own MFA device is
// deactivated from the VPS. Whatever the batching, the order of arrival
// within the allowed lateness, or the replica that scores each record, the
// removal is HIGH; the same removal from the office stays LOW.

const (
	mfaOffice = "203.0.113.10"
	mfaVPS    = "192.0.2.50"
)

func mfaHostingSettings() *detectors.Settings {
	return &detectors.Settings{GeoIP: mfaGeo, HostingASNs: []uint32{64511}}
}

// mfaGeo is geoTable plus EC2 addresses in the US (AS16509, AWS).
var mfaGeo = func() fakeGeo {
	g := fakeGeo{"3.5.0.0/16": {Country: "US", ASN: 16509, ASNOrg: "AMAZON-02"}}
	for p, loc := range geoTable {
		g[p] = loc
	}
	return g
}()

// mfaHostingDetectors are mfa-device-removed and access-key-new-location,
// whose mark on the key the removal once read: it runs so the tests show
// the removal no longer depends on it.
func mfaHostingDetectors() []detectors.Detector {
	return []detectors.Detector{
		dt.Must(builtin.NewMFADeviceRemoved(detectors.Config{Settings: mfaHostingSettings()})),
		dt.Must(builtin.NewAccessKeyNewLocation(detectors.Config{Settings: mfaHostingSettings()})),
	}
}

func mfaOfficeHistory() []dt.Rec {
	var out []dt.Rec
	for i := range 20 {
		out = append(out, keyUse(day(i-21).Add(9*time.Hour), mfaOffice))
	}
	return out
}

// mfaSeverities returns the severities of the mfa-device-removed findings
// of vs, sorted, and fails when they name more than one incident.
func mfaSeverities(t *testing.T, vs []engine.Verdict) []string {
	t.Helper()
	var sevs, incidents []string
	for _, f := range dt.Only(builtin.MFADeviceRemovedID, vs) {
		sevs = append(sevs, f.Severity.String())
		if !slices.Contains(incidents, f.Incident) {
			incidents = append(incidents, f.Incident)
		}
	}
	if len(incidents) > 1 {
		t.Errorf("rule: one removal is one incident whichever record raises it; got %v", incidents)
	}
	slices.Sort(sevs)
	return sevs
}

// mfaHighest is the highest of severities, "" for none.
func mfaHighest(sevs []string) string {
	best := ""
	for _, s := range sevs {
		if best == "" || mfaRank(s) > mfaRank(best) {
			best = s
		}
	}
	return best
}

func mfaRank(sev string) int {
	return slices.Index([]string{"INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"}, sev)
}

type mfaHostingCase struct {
	name    string
	history []dt.Rec // after the office history, days before
	attack  []dt.Rec // within minutes
	want    string   // the highest severity of the removal's incident
}

func mfaHostingCases() []mfaHostingCase {
	at := t0.Add(10 * time.Hour)
	return []mfaHostingCase{
		{"VPS use then removal from the VPS is HIGH", nil, []dt.Rec{
			keyUse(at, mfaVPS), deactivateMFA("alice", at.Add(time.Minute)).With("sourceIPAddress", mfaVPS)}, "HIGH"},
		{"quiet twin: VPS use then the removal from the office is LOW", nil, []dt.Rec{
			keyUse(at, mfaVPS), deactivateMFA("alice", at.Add(time.Minute))}, "LOW"},
		{"removal from the VPS alone is HIGH", nil, []dt.Rec{
			deactivateMFA("alice", at.Add(time.Minute)).With("sourceIPAddress", mfaVPS)}, "HIGH"},
		{"quiet twin: office use then removal from the office is LOW", nil, []dt.Rec{
			keyUse(at, mfaOffice), deactivateMFA("alice", at.Add(time.Minute))}, "LOW"},
		{"one VPS use the day before does not make it the user's: HIGH", []dt.Rec{keyUse(at.Add(-26*time.Hour), mfaVPS)}, []dt.Rec{
			deactivateMFA("alice", at.Add(time.Minute)).With("sourceIPAddress", mfaVPS)}, "HIGH"},
		{"denied calls from the VPS teach nothing more: HIGH", nil, []dt.Rec{
			keyUse(at, mfaVPS).Failed("AccessDenied"), deactivateMFA("alice", at.Add(time.Minute)).With("sourceIPAddress", mfaVPS)}, "HIGH"},
		{"quiet twin: a jump host used for days is LOW", jumpHostDays(at), []dt.Rec{keyUse(at, mfaVPS),
			deactivateMFA("alice", at.Add(time.Minute)).With("sourceIPAddress", mfaVPS)}, "LOW"},
	}
}

// jumpHostDays are alice's uses of the VPS on four earlier working days,
// from the CLI with her key and from the console: her jump host, learned.
func jumpHostDays(at time.Time) []dt.Rec {
	var out []dt.Rec
	for d := 2; d <= 5; d++ {
		when := at.Add(-time.Duration(d) * 24 * time.Hour)
		out = append(out, keyUse(when, mfaVPS), aliceConsole(keyUse(when.Add(time.Hour), mfaVPS)))
	}
	return out
}

// aliceConsole is alice's call r made from a console session instead of
// her key: a temporary key of its own.
func aliceConsole(r dt.Rec) dt.Rec {
	return r.With("userIdentity.accessKeyId", "ASIAEXAMPLEALICEC1").With("sessionCredentialFromConsole", "true")
}

func TestMFADeviceRemovedHosting(t *testing.T) { runMFAHosting(t, memoryStore) }

func TestMFADeviceRemovedHostingOnRedis(t *testing.T) { runOnRedis(t, runMFAHosting) }

func runMFAHosting(t *testing.T, newStore newStoreFunc) { runMFACases(t, newStore, mfaHostingCases()) }

// runMFACases runs each case after alice's office history, one record at
// a time, in one batch, both reversed, and shuffled within the lateness.
func runMFACases(t *testing.T, newStore newStoreFunc, cases []mfaHostingCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check := func(how string, vs []engine.Verdict) {
				t.Helper()
				if got := mfaHighest(mfaSeverities(t, vs)); got != c.want {
					t.Errorf("%s: rule: the removal's severity does not depend on batching or order; got %s, want %s", how, got, c.want)
				}
			}
			fresh := func() *dt.Harness {
				h := dt.NewWithStore(t, newStore(t), mfaHostingDetectors()...)
				h.Stream(mfaOfficeHistory()...)
				h.Stream(c.history...)
				return h
			}
			check("one record at a time", fresh().Stream(c.attack...))
			check("one batch", fresh().Score(c.attack...))
			check("one batch, reversed", fresh().Score(reversed(c.attack)...))
			check("one at a time, reversed", fresh().Stream(reversed(c.attack)...))
			for seed := range uint64(4) {
				h := fresh()
				check(fmt.Sprintf("shuffled seed %d", seed), scoreInBatches(h, deliver(c.attack, detectors.AllowedLateness, seed), seed))
			}
		})
	}
}

// TestMFADeviceRemovedHostingTwoReplicas scores the VPS use on one replica
// and the removal on another sharing one real Redis: one after the other in
// both orders, and concurrently (several rounds, each on fresh state).
func TestMFADeviceRemovedHostingTwoReplicas(t *testing.T) { runOnRedis(t, runMFATwoReplicas) }

// TestMFADeviceRemovedHostingOnRedisCluster runs the scenarios and the two
// replicas on a three-master Redis Cluster: the user's hosting and removal
// sets live on one slot.
func TestMFADeviceRemovedHostingOnRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cluster := redistest.StartCluster(t, 3)
	newStore := func(tb testing.TB) state.Store { return rstore.Open(tb, cluster.URL(), rstore.Prefix()) }
	t.Run("scenarios", func(t *testing.T) { runMFAHosting(t, newStore) })
	t.Run("two replicas", func(t *testing.T) { runMFATwoReplicas(t, newStore) })
}

func runMFATwoReplicas(t *testing.T, newStore newStoreFunc) {
	at := t0.Add(10 * time.Hour)
	for _, c := range []struct {
		name   string
		remove string // where the removal comes from
		want   string
	}{{"removal from the VPS", mfaVPS, "HIGH"}, {"removal from the office", mfaOffice, "LOW"}} {
		for _, order := range []string{"use first", "removal first", "concurrent", "concurrent", "concurrent", "concurrent"} {
			t.Run(c.name+"/"+order, func(t *testing.T) {
				store := newStore(t)
				a := dt.NewWithStore(t, store, mfaHostingDetectors()...)
				b := dt.NewWithStore(t, store, mfaHostingDetectors()...)
				a.Stream(mfaOfficeHistory()...)
				use := keyUse(at, mfaVPS)
				removal := deactivateMFA("alice", at.Add(time.Minute)).With("sourceIPAddress", c.remove)
				var vs []engine.Verdict
				switch order {
				case "use first":
					vs = append(a.Score(use), b.Score(removal)...)
				case "removal first":
					vs = append(b.Score(removal), a.Score(use)...)
				default:
					vs = scoreConcurrently(t, map[*dt.Harness]dt.Rec{a: use, b: removal})
				}
				if got := mfaHighest(mfaSeverities(t, vs)); got != c.want {
					t.Errorf("rule: two replicas give the severity of one; got %s, want %s", got, c.want)
				}
			})
		}
	}
}

// scoreConcurrently scores each harness's record at once, each on its own
// goroutine, and returns all verdicts.
func scoreConcurrently(t *testing.T, recs map[*dt.Harness]dt.Rec) []engine.Verdict {
	t.Helper()
	var (
		mu  sync.Mutex
		out []engine.Verdict
		wg  sync.WaitGroup
	)
	for h, r := range recs {
		wg.Go(func() {
			vs, err := h.Engine.Score(context.Background(), engine.Batch{Records: [][]byte{r.JSON()}})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("score: %v", err)
				return
			}
			out = append(out, vs...)
		})
	}
	wg.Wait()
	return out
}
