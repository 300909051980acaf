package engine_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// One incident suppresses once, on both stores.
func TestSuppressedIncidentSuppressesOnce(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		suppressOnce(t, func(tb testing.TB) state.Store {
			mem := memory.New()
			tb.Cleanup(func() { mem.Close() })
			return mem
		})
	})
	t.Run("redis", func(t *testing.T) {
		if testing.Short() {
			t.Skip("starts a redis-server")
		}
		suppressOnce(t, rstore.Factory(t))
	})
}

// suppressOnce: every event of a suppressed burst raises the same throttled
// finding, and only one is reported (and counted) as suppressed, however
// the burst is batched or ordered. Before suppressed findings took a
// throttle, 12 terraform plans reported 204 suppressed findings. The
// suppressed throttle is the incident's own, not its alert throttle: a
// stolen credential's call from elsewhere in the same incident still
// raises the incident's one alert.
func suppressOnce(t *testing.T, newStore func(testing.TB) state.Store) {
	quiet := func(i int) []byte {
		return dt.Base("s3.amazonaws.com", "ListBuckets", t0.Add(time.Duration(i)*time.Second)).With("sourceIPAddress", "192.0.2.1").JSON()
	}
	batchings := map[string][][][]byte{
		"one batch":    {{quiet(0), quiet(1), quiet(2), quiet(3), quiet(4), quiet(5)}},
		"three:three":  {{quiet(0), quiet(1), quiet(2)}, {quiet(3), quiet(4), quiet(5)}},
		"one by one":   {{quiet(0)}, {quiet(1)}, {quiet(2)}, {quiet(3)}, {quiet(4)}, {quiet(5)}},
		"shuffled one": {shuffled(quiet(0), quiet(1), quiet(2), quiet(3), quiet(4), quiet(5))},
	}
	for name, batches := range batchings {
		t.Run(name, func(t *testing.T) {
			reg, err := detectors.NewRegistry(onceDetector{})
			if err != nil {
				t.Fatal(err)
			}
			e := engine.New(reg, newStore(t), engine.Options{Suppress: []detectors.Suppression{
				{Detector: "*", SourceCIDR: netip.MustParsePrefix("192.0.2.0/24"), Reason: "scanner"},
			}})
			var suppressed, other int
			for _, b := range batches {
				for _, v := range score(t, e, b...) {
					switch v.Outcome {
					case engine.OutcomeSuppressed:
						suppressed++
					case engine.OutcomeClean:
					default:
						other++
					}
				}
			}
			if suppressed != 1 || other != 0 {
				t.Fatalf("%d SUPPRESSED and %d other verdicts that are not CLEAN, want 1 and 0: one suppressed finding per incident", suppressed, other)
			}
			loud := dt.Base("s3.amazonaws.com", "ListBuckets", t0.Add(time.Minute))
			if vs := score(t, e, loud.JSON()); vs[0].Outcome != engine.OutcomeAlert {
				t.Fatalf("unsuppressed event after a suppressed incident: %v, want ALERT", vs[0].Outcome)
			}
			again := dt.Base("s3.amazonaws.com", "ListBuckets", t0.Add(2*time.Minute))
			if vs := score(t, e, again.JSON()); vs[0].Outcome != engine.OutcomeClean {
				t.Fatalf("the incident alerts once; next event: %v, want CLEAN", vs[0].Outcome)
			}
		})
	}
}

func shuffled(recs ...[]byte) [][]byte {
	r := rand.New(rand.NewPCG(12, 1))
	r.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	return recs
}
