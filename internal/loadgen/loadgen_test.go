package loadgen_test

import (
	"context"
	"net"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/corpus"
	"github.com/iamsentry/iamsentry/internal/loadgen"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/state/memory"
)

// startServer serves the built-in detectors on the embedded store on a
// loopback port until the test ends, and returns a connection to it.
func startServer(t *testing.T) *grpc.ClientConn {
	t.Helper()
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	store := memory.New()
	t.Cleanup(func() { store.Close() })
	eng := engine.New(reg, store, engine.Options{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.New(eng, server.Options{}).Serve(ctx, lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); cancel(); <-done })
	return conn
}

// testCorpus is a small generated corpus with one malformed record last.
func testCorpus() [][]byte {
	recs := corpus.Generate(corpus.Options{Seed: 1, Days: 3, Users: 5})
	raws := make([][]byte, len(recs))
	for i, r := range recs {
		raws[i] = r.JSON
	}
	return append(raws, []byte(`{"not json"`))
}

func TestRunAgainstAServer(t *testing.T) {
	conn := startServer(t)
	raws := testCorpus()
	rep, err := loadgen.Run(t.Context(), conn, loadgen.Config{Records: raws, Streams: 3, Batch: 7, Window: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Events != len(raws) || rep.Requests != (len(raws)+6)/7 || len(rep.Latencies) != rep.Requests {
		t.Errorf("report: %d events in %d requests (%d latencies); sent %d events", rep.Events, rep.Requests, len(rep.Latencies), len(raws))
	}
	if rep.Outcomes["OUTCOME_INVALID"] != 1 || rep.Outcomes["OUTCOME_CLEAN"] == 0 {
		t.Errorf("outcomes = %v", rep.Outcomes)
	}
	if rep.Percentile(50) <= 0 || rep.Percentile(99) < rep.Percentile(50) || rep.EventsPerSecond() <= 0 {
		t.Errorf("p50 %v p99 %v, %v events/s", rep.Percentile(50), rep.Percentile(99), rep.EventsPerSecond())
	}
}

// TestRunRateAgainstAServer checks the open loop's bookkeeping on a real
// server and the wall clock: every event answered once, one latency each.
// It asserts no time.
func TestRunRateAgainstAServer(t *testing.T) {
	conn := startServer(t)
	raws := testCorpus()
	rep, err := loadgen.RunRate(t.Context(), loadgen.OpenScore(conn), loadgen.RateConfig{Records: raws, Rate: 20000, Streams: 3, Batch: 7})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Events != len(raws) || len(rep.Latencies) != len(raws) || rep.Requests < (len(raws)+6)/7 {
		t.Errorf("report: %d events in %d requests (%d latencies); sent %d events", rep.Events, rep.Requests, len(rep.Latencies), len(raws))
	}
	if rep.Outcomes["OUTCOME_INVALID"] != 1 || rep.Outcomes["OUTCOME_CLEAN"] == 0 {
		t.Errorf("outcomes = %v", rep.Outcomes)
	}
	if !slices.IsSorted(rep.Latencies) || rep.Percentile(99.9) < rep.Percentile(50) || rep.AchievedRate() <= 0 {
		t.Errorf("p50 %v p99.9 %v, %v events/s", rep.Percentile(50), rep.Percentile(99.9), rep.AchievedRate())
	}
}
