package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/state/memory"
)

// testBatcher returns a batcher of the built-in detectors on the
// embedded store with the given number of workers, and a record maker
// whose records' event IDs start with the prefix they are given.
func testBatcher(t *testing.T, workers int) (*batcher, func(id string) []byte) {
	t.Helper()
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	b := newBatcher(engine.New(reg, store, engine.Options{}), workers, 512, 0, 0)
	tmpl, err := os.ReadFile("testdata/get_caller_identity.json")
	if err != nil {
		t.Fatal(err)
	}
	return b, func(id string) []byte {
		return bytes.Replace(tmpl, []byte(`"eventID": "`), []byte(`"eventID": "`+id), 1)
	}
}

// TestScoreInlineWhenIdle: with no batch in flight a job is scored on its
// caller's goroutine. The batcher has no workers, so a job handed off
// would never be scored.
func TestScoreInlineWhenIdle(t *testing.T) {
	b, record := testBatcher(t, 0)
	defer b.stop()
	for i := range 3 {
		v, err := b.score(context.Background(), "", false, [][]byte{record(fmt.Sprint("idle-", i, "-"))})
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != 1 || !bytes.HasPrefix([]byte(v[0].EventID), []byte(fmt.Sprint("idle-", i, "-"))) {
			t.Fatalf("call %d: verdicts %+v, want the one of its own record", i, v)
		}
		if b.flight.busy() != nil {
			t.Fatalf("call %d: a batch still counted in flight after its caller had its verdicts", i)
		}
	}
}

// TestScoreHandsOffWhileABatchIsInFlight: while a batch is scored, a job
// goes to the workers (whose busy linger batches it with what else
// arrives), not to its caller's goroutine.
func TestScoreHandsOffWhileABatchIsInFlight(t *testing.T) {
	b, record := testBatcher(t, 0)
	defer b.stop()
	b.flight.enter() // a batch in flight
	type answer struct {
		v   []engine.Verdict
		err error
	}
	got := make(chan answer, 1)
	go func() {
		v, err := b.score(context.Background(), "", false, [][]byte{record("busy-")})
		got <- answer{v, err}
	}()
	j := <-b.jobs // a test that hangs here scored the job inline
	want := []engine.Verdict{{EventID: "from the worker"}}
	j.result <- jobResult{verdicts: want}
	if a := <-got; a.err != nil || len(a.v) != 1 || a.v[0].EventID != want[0].EventID {
		t.Errorf("score returned %+v, %v; want the worker's verdict", a.v, a.err)
	}
	b.flight.leave()
}

// TestScoreInlineAfterStop: a batcher that stopped scores nothing, on
// its workers or inline.
func TestScoreInlineAfterStop(t *testing.T) {
	b, record := testBatcher(t, 0)
	b.stop()
	if _, err := b.score(context.Background(), "", false, [][]byte{record("stopped-")}); !errors.Is(err, errStopping) {
		t.Errorf("score after stop: %v, want errStopping", err)
	}
	if b.flight.busy() != nil {
		t.Error("a refused job left a batch counted in flight")
	}
}

// TestScoreConcurrentCallersGetTheirOwnVerdicts: callers that race for
// the inline worker and the workers each get the verdicts of their own
// records (run under -race: the inline worker is shared by every caller,
// one at a time).
func TestScoreConcurrentCallersGetTheirOwnVerdicts(t *testing.T) {
	b, record := testBatcher(t, 2)
	defer b.stop()
	const callers, calls = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				id := fmt.Sprintf("c%d-%d-", c, i)
				v, err := b.score(context.Background(), "", false, [][]byte{record(id), record(id + "b-")})
				if err != nil {
					errs <- err
					return
				}
				if len(v) != 2 || !bytes.HasPrefix([]byte(v[0].EventID), []byte(id)) || !bytes.HasPrefix([]byte(v[1].EventID), []byte(id+"b-")) {
					errs <- fmt.Errorf("caller %d call %d: verdicts for %q and %q, want %s… and %sb-…", c, i, v[0].EventID, v[1].EventID, id, id)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
