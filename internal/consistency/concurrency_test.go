package consistency_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/consistency"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// reconRounds is how many keys each run splits a recon pair for; `make
// soak` runs the test many times over.
const reconRounds = 300

func keyCall(ak, source, name string, at time.Time) []byte {
	// Each key is its own user: caller-identity-recon learns a principal's
	// habitual probes, and a round must not be another round's habit.
	return dt.Base(source, name, at).With("userIdentity.accessKeyId", ak).
		With("userIdentity.arn", "arn:aws:iam::111122223333:user/"+ak).With("sourceIPAddress", "203.0.113.7").JSON()
}

// checkReconSplit is the lost incident of issue 13: a session key's
// GetCallerIdentity and ListBuckets 45 s apart, with a later call of the
// same key, each in its own batch, scored at once as concurrent streams
// do. Every round must raise the caller-identity-recon incident exactly
// once, whichever batch the store executes first.
func checkReconSplit(t *testing.T, store state.Store) {
	e, err := consistency.NewEngine(store)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 13))
	base := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i := range reconRounds {
		ak := fmt.Sprintf("ASIASPLIT%011d", i)
		t0 := base.Add(time.Duration(i) * time.Hour)
		later := keyCall(ak, "s3.amazonaws.com", "ListBuckets", t0.Add(30*time.Minute))
		if rng.IntN(2) == 0 {
			later = keyCall(ak, "sts.amazonaws.com", "GetCallerIdentity", t0.Add(30*time.Minute))
		}
		batches := [][]byte{
			keyCall(ak, "sts.amazonaws.com", "GetCallerIdentity", t0),
			keyCall(ak, "s3.amazonaws.com", "ListBuckets", t0.Add(45*time.Second)),
			later,
		}
		rng.Shuffle(len(batches), func(a, b int) { batches[a], batches[b] = batches[b], batches[a] })
		got := consistency.Incidents(scoreConcurrently(ctx, t, e, batches))
		if n := consistency.ByDetector(got)[builtin.CallerIdentityReconID]; n != 1 {
			t.Fatalf("round %d (key %s): %d caller-identity-recon incidents, want exactly 1: %v", i, ak, n, got)
		}
	}
}

// scoreConcurrently scores each record as a batch of its own, all at once.
func scoreConcurrently(ctx context.Context, t *testing.T, e *engine.Engine, records [][]byte) []engine.Verdict {
	out := make([][]engine.Verdict, len(records))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, raw := range records {
		wg.Go(func() {
			<-start
			vs, err := e.Score(ctx, engine.Batch{Records: [][]byte{raw}})
			if err != nil {
				t.Error(err)
			}
			out[i] = vs
		})
	}
	close(start)
	wg.Wait()
	var all []engine.Verdict
	for _, vs := range out {
		all = append(all, vs...)
	}
	return all
}

func TestReconPairSplitAcrossConcurrentBatchesMemory(t *testing.T) {
	checkReconSplit(t, newMemory(t))
}

func TestReconPairSplitAcrossConcurrentBatchesRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	checkReconSplit(t, rstore.Factory(t)(t))
}
