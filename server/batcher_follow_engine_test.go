package server

import (
	"bytes"
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// gateStore holds the first Exec until open is closed and counts Execs
// (an engine batch makes several on the embedded store).
type gateStore struct {
	state.Store
	open    chan struct{}
	execs   atomic.Int32
	entered chan struct{} // closed when the first Exec starts
}

func (g *gateStore) Exec(ctx context.Context, b *state.Batch) error {
	if g.execs.Add(1) == 1 {
		close(g.entered)
		<-g.open
	}
	return g.Store.Exec(ctx, b)
}

// gatedEngine is an engine of every built-in detector on an embedded
// store whose first Exec waits for the gate.
func gatedEngine(t *testing.T) (*engine.Engine, *gateStore) {
	t.Helper()
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New()
	t.Cleanup(func() { mem.Close() })
	store := &gateStore{Store: mem, open: make(chan struct{}), entered: make(chan struct{})}
	return engine.New(reg, store, engine.Options{}), store
}

// recordWithID returns a function making the GetCallerIdentity record of
// testdata with its event id prefixed.
func recordWithID(t *testing.T) func(prefix string) []byte {
	t.Helper()
	tmpl, err := os.ReadFile("testdata/get_caller_identity.json")
	if err != nil {
		t.Fatal(err)
	}
	return func(prefix string) []byte {
		return bytes.Replace(tmpl, []byte(`"eventID": "`), []byte(`"eventID": "`+prefix), 1)
	}
}

// TestFollowerJoinsTheBatchGatheredMeanwhile is the point of follow, on
// the real engine: stream A's first job is being scored (its Exec held),
// stream B's job waits for it in a gathering batch (the busy linger), and
// A hands over its next job. When A's first job finishes, A's next job
// goes in B's batch, and A's
// next job is never scored beside its first. Two engine batches for
// three jobs, where a stream that can hand over its next job only after
// its verdicts makes three.
func TestFollowerJoinsTheBatchGatheredMeanwhile(t *testing.T) {
	eng, store := gatedEngine(t)
	b := newBatcher(eng, 2, 512, 0, time.Hour)
	defer b.stop()
	withID := recordWithID(t)
	record := func(id string) [][]byte { return [][]byte{withID(id)} }
	ctx := context.Background()
	a1, err := b.submit(ctx, "", false, record("a1-"))
	if err != nil {
		t.Fatal(err)
	}
	<-store.entered // a1's batch is in its Exec, held
	b1, err := b.submit(ctx, "", false, record("b1-"))
	if err != nil {
		t.Fatal(err)
	}
	// b1's worker gathers while a1's batch is in flight: wait until it
	// waits for that batch to leave (synchronisation, not a timed wait).
	for {
		b.flight.mu.Lock()
		waiting := b.flight.left != nil
		b.flight.mu.Unlock()
		if waiting {
			break
		}
		time.Sleep(time.Millisecond)
	}
	a2, err := b.follow(ctx, a1, "", false, record("a2-"))
	if err != nil {
		t.Fatal(err)
	}
	if n := store.execs.Load(); n != 1 {
		t.Fatalf("%d Execs while a1's first is held; want 1 (a2 waits for a1, b1 for a batch to leave)", n)
	}
	close(store.open)
	for name, j := range map[string]*job{"a1": a1, "a2": a2, "b1": b1} {
		v, err := b.wait(ctx, j)
		if err != nil || len(v) != 1 {
			t.Fatalf("%s: %d verdicts, %v", name, len(v), err)
		}
	}
	if st := b.eng.Stats(); st.Batches != 2 || st.Records != 3 {
		t.Errorf("%d engine batches for %d records of three jobs; want 2 (a1, then b1 with a2, which followed a1)", st.Batches, st.Records)
	}
}
