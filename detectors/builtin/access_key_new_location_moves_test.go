package builtin_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// movesSettings: hostingGeo, with the German Telekom /24 (198.51.100.0/24)
// as the organisation's office (trusted_networks).
func movesSettings() *detectors.Settings {
	return &detectors.Settings{GeoIP: hostingGeo, TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}
}

// moveOutcome is what scoring a stream gave: the incidents with their
// severity, and the explanations.
type moveOutcome struct {
	incidents, explanations []string
}

// scoreMove scores stream on a fresh store of newStore, one record per
// batch (inBatch false) or all in one batch.
func scoreMove(t *testing.T, newStore func(testing.TB) state.Store, inBatch bool, stream ...dt.Rec) moveOutcome {
	t.Helper()
	h := dt.NewWithStore(t, newStore(t), newLocation(t, movesSettings()))
	vs := h.Stream(stream...)
	if inBatch {
		vs = h.Score(stream...)
	}
	var out moveOutcome
	for _, f := range dt.Only(builtin.AccessKeyNewLocationID, vs) {
		out.incidents = append(out.incidents, f.Incident+" @"+f.Severity.String())
		out.explanations = append(out.explanations, f.Explanation)
	}
	slices.Sort(out.incidents)
	return out
}

// runSessionMoves: a person's session key in two places a minute apart is
// one HIGH incident whichever record is scored first, one record per
// batch or both in one; its quiet twins (two ordinary networks of one
// country, the office and home in the office's country) raise nothing in
// either order. The explanation of the record scored second never calls
// the person's home a new country.
func runSessionMoves(t *testing.T, newStore func(testing.TB) state.Store) {
	home := personCall(t0, "198.51.101.7")                          // DE, Vodafone: the person's ISP
	tor := personCall(t0.Add(time.Minute), "198.51.102.9")          // DE, a Tor exit operator's ASN
	mobile := personCall(t0.Add(time.Minute), "2001:db8:1::5")      // DE, Telekom: another ordinary network
	abroad := personCall(t0.Add(time.Minute), "192.0.2.66")         // RU
	office := personCall(t0, "198.51.100.30")                       // DE, trusted
	officeLater := personCall(t0.Add(time.Minute), "198.51.100.31") // DE, trusted
	for _, tc := range []struct {
		name  string
		a, b  dt.Rec
		fires bool
	}{
		{"home ISP then a Tor exit in the same country", home, tor, true},
		{"home ISP then another country", home, abroad, true},
		{"the trusted office then another country", office, abroad, true},
		{"quiet: home ISP then a mobile network of the same country", home, mobile, false},
		{"quiet: the trusted office then home in the office's country", office, home.With("eventTime", t0.Add(time.Minute).Format(time.RFC3339)), false},
		{"quiet: the trusted office twice", office, officeLater, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, inBatch := range []bool{false, true} {
				inOrder := scoreMove(t, newStore, inBatch, tc.a, tc.b)
				reversed := scoreMove(t, newStore, inBatch, tc.b, tc.a)
				want := 0
				if tc.fires {
					want = 1
				}
				if len(inOrder.incidents) != want || !strings.HasSuffix(strings.Join(inOrder.incidents, ""), map[bool]string{true: "@HIGH", false: ""}[tc.fires]) {
					t.Errorf("one batch %v, event-time order: incidents %v, want %d HIGH", inBatch, inOrder.incidents, want)
				}
				if !slices.Equal(reversed.incidents, inOrder.incidents) {
					t.Errorf("one batch %v, the later record scored first: incidents %v, want %v (order-free)", inBatch, reversed.incidents, inOrder.incidents)
				}
				for _, e := range append(inOrder.explanations, reversed.explanations...) {
					if strings.Contains(e, "new country") || !strings.Contains(e, "moved within its life") || !strings.Contains(e, "1 other place") {
						t.Errorf("one batch %v: explanation does not name the move: %q", inBatch, e)
					}
				}
			}
		})
	}
}

func TestAccessKeyNewLocationSessionMovesEitherOrder(t *testing.T) {
	runSessionMoves(t, func(testing.TB) state.Store { return memory.New() })
}

func TestAccessKeyNewLocationSessionMovesEitherOrderOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	runSessionMoves(t, func(tb testing.TB) state.Store { return open(tb) })
}

// TestAccessKeyNewLocationTrustedOnlyKey: a key used only from the trusted
// office for ten days has a history: its first use from another country
// is HIGH (before, it was the key's first sighting, which only learns:
// the realistic corpus's office developers' stolen keys raised nothing).
// Quiet twins: the same key's first use from home in the office's
// country; a key used from the office for one day only (its warm-up).
func TestAccessKeyNewLocationTrustedOnlyKey(t *testing.T) {
	var office []dt.Rec
	for i := range 10 {
		office = append(office, call(day(i), "198.51.100.30"))
	}
	for _, tc := range []struct {
		name   string
		stream []dt.Rec
		want   int
	}{
		{"office for 10 days, then Russia", append(slices.Clone(office), call(day(10), "192.0.2.66")), 1},
		{"quiet: office for 10 days, then home in the office's country", append(slices.Clone(office), call(day(10), "198.51.101.7")), 0},
		{"quiet: office for a day, then Russia: still warming up", append(slices.Clone(office[:1]), call(day(1), "192.0.2.66")), 0},
		{"quiet: the office only", office, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := dt.Only(builtin.AccessKeyNewLocationID, dt.New(t, newLocation(t, movesSettings())).Stream(tc.stream...))
			if len(fs) != tc.want {
				t.Fatalf("%d findings, want %d: %v", len(fs), tc.want, fs)
			}
			for _, f := range fs {
				if f.Severity != detectors.SeverityHigh || f.EventID != tc.stream[len(tc.stream)-1].ID() || !strings.Contains(f.Explanation, "new country RU") {
					t.Errorf("finding %s on %s: %q, want HIGH on the last record naming country RU", f.Severity, f.EventID, f.Explanation)
				}
			}
		})
	}
}
