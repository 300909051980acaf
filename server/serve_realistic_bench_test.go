package server_test

import (
	"context"
	"net"
	"runtime"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/loadgen"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpusrules"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpustest"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/state/memory"
)

// BenchmarkServeRealistic sends a month of a realistic account
// (internal/realcorpus, as BenchmarkScoreRealistic in engine scores it)
// over gRPC on loopback TCP to a server on the embedded store, the way
// `loadgen --corpus realistic` does (8 streams, 100 events a request, 4
// requests in flight each), client and server in this process. Set against
// BenchmarkScoreRealistic (the engine alone on the same records) it shows
// what serving adds; its allocations per event, which noise on a shared
// machine cannot move, include the client's (loadgen's), the same before
// and after a change to the server. Profile the serving path with
// -cpuprofile, -memprofile or -mutexprofile.
func BenchmarkServeRealistic(b *testing.B) {
	records := loadgen.Realistic(1, 0)
	built := realcorpusrules.Build(b)
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cpu0 := realcorpustest.CPUTime(b)
	alerts := 0
	for b.Loop() {
		rep := serveRealisticOnce(ctx, b, built, records)
		alerts += rep.Outcomes["OUTCOME_ALERT"]
	}
	cpu := realcorpustest.CPUTime(b) - cpu0
	runtime.ReadMemStats(&after)
	if alerts == 0 {
		b.Fatal("no alerts on a corpus with attacks woven in")
	}
	n := float64(len(records) * b.N)
	b.ReportMetric(n/cpu.Seconds(), "events/CPU-s")
	b.ReportMetric(n/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/event")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/event")
	b.ReportMetric(0, "ns/op") // one op is a whole month: meaningless
}

// serveRealisticOnce serves a fresh store and sends records through it,
// requiring a verdict for each.
func serveRealisticOnce(ctx context.Context, b *testing.B, built *config.Built, records [][]byte) *loadgen.Report {
	return serveOnce(ctx, b, built.Registry, engine.Options{Suppress: built.Suppress}, loadgen.Config{Records: records})
}

// serveOnce serves a fresh embedded store on loopback TCP and sends
// cfg.Records through it as cfg says, requiring a verdict for each.
func serveOnce(ctx context.Context, b *testing.B, reg *detectors.Registry, eopts engine.Options, cfg loadgen.Config) *loadgen.Report {
	store := memory.New(memory.WithSweepInterval(0))
	defer store.Close()
	conn, stop := benchServe(ctx, b, engine.New(reg, store, eopts))
	defer stop()
	rep, err := loadgen.Run(ctx, conn, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if rep.Events != len(cfg.Records) {
		b.Fatalf("%d verdicts for %d records", rep.Events, len(cfg.Records))
	}
	return rep
}

// benchServe serves eng on loopback TCP and returns a client connection
// to it, and the function that closes both.
func benchServe(ctx context.Context, b *testing.B, eng *engine.Engine) (*grpc.ClientConn, func()) {
	srv := server.New(eng, server.Options{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		stop()
		b.Fatal(err)
	}
	return conn, func() { conn.Close(); stop(); <-done }
}
