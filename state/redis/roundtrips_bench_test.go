package redis_test

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpusrules"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpustest"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	redisstate "github.com/iamsentry/iamsentry/state/redis"
)

// setSizes counts the SET commands pipelines send and their values' bytes:
// what a batch rewrites whole (pages and large entries' side records).
type setSizes struct{ n, bytes atomic.Int64 }

func (h *setSizes) DialHook(next goredis.DialHook) goredis.DialHook          { return next }
func (h *setSizes) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook { return next }

func (h *setSizes) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		for _, c := range cmds {
			if args := c.Args(); len(args) > 2 && c.Name() == "set" {
				if v, ok := args[2].([]byte); ok {
					h.n.Add(1)
					h.bytes.Add(int64(len(v)))
				}
			}
		}
		return next(ctx, cmds)
	}
}

// roundTripDays is how much of the realistic corpus the round-trip
// benchmark scores: a few days hold every kind of identity (people, CI,
// automation) and keep batches of one event affordable. The month (30)
// is what the open loop replays: only its identities grow past
// record.PageThreshold and are paged.
var roundTripDays = flag.Int("roundtrips.days", 3, "days of the realistic corpus BenchmarkRoundTripsRealistic scores")

// BenchmarkRoundTripsRealistic scores the first days of the realistic
// corpus (internal/realcorpus, seed 1) through the engine on a real
// redis-server on the record layout, in batches of 1, 4, 32 (the open
// loop's at 20k events/s) and 512 records, and reports what a batch costs
// Redis and the scorer. The counts are deterministic (the
// corpus, the batches and the store's decisions are), so noise on a shared
// machine cannot move them:
//
//   - trips/batch: round trips (pipelines plus single commands sent, as
//     the go-redis hooks see them) per engine batch;
//   - sent/event: commands sent, EVALSHA counting once;
//   - cmds/event: commands the server ran, those scripts ran included
//     (INFO commandstats);
//   - redis-µs/event: the server's CPU (INFO cpu), and script-µs/event
//     the time inside EVALSHA (INFO commandstats usec), which noise
//     does move;
//   - go-µs/event: this process's CPU (getrusage, user and system), which
//     is the engine and the store's Go side (redis-server is a process of
//     its own), and noise moves; allocs/event its heap allocations.
//
// At one-event batches, the open loop's case, per-event costs are
// per-batch costs: nothing is shared between events of a batch. It logs
// the commands that dominate.
func BenchmarkRoundTripsRealistic(b *testing.B) {
	c := realcorpus.Generate(realcorpus.Options{Seed: 1, Days: *roundTripDays})
	raws := make([][]byte, len(c.Records))
	for i, r := range c.Records {
		raws[i] = r.JSON
	}
	built := realcorpusrules.Build(b)
	srv := redistest.StartServer(b)
	for _, size := range []int{1, 4, 32, 512} {
		b.Run("batch="+strconv.Itoa(size), func(b *testing.B) {
			benchRoundTrips(b, srv, built, raws, size)
		})
	}
}

func benchRoundTrips(b *testing.B, srv *redistest.Server, built *config.Built, raws [][]byte, size int) {
	ctx := context.Background()
	admin := srv.Client()
	var trips, sent, cmds, cpu, batches, scriptUsec int64
	var goCPU time.Duration
	var mallocs uint64
	var ms runtime.MemStats
	byCmd := map[string]int64{}
	var stats redisstate.RecordStats
	var sets setSizes
	for b.Loop() {
		b.StopTimer()
		if err := admin.FlushAll(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		if err := admin.ConfigResetStat(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		cpu0 := redistest.CPU(b, admin)
		store := rstore.Open(b, srv.URL(), rstore.Prefix())
		var h pipelineCounter
		store.Client().AddHook(&h)
		store.Client().AddHook(&sets)
		eng := engine.New(built.Registry, store, engine.Options{Suppress: built.Suppress})
		b.StartTimer()
		runtime.ReadMemStats(&ms)
		mallocs -= ms.Mallocs
		goCPU -= realcorpustest.CPUTime(b)
		for off := 0; off < len(raws); off += size {
			if _, err := eng.Score(ctx, engine.Batch{Records: raws[off:min(off+size, len(raws))]}); err != nil {
				b.Fatal(err)
			}
			batches++
		}
		goCPU += realcorpustest.CPUTime(b)
		runtime.ReadMemStats(&ms)
		mallocs += ms.Mallocs
		b.StopTimer()
		cpu += redistest.CPU(b, admin) - cpu0
		trips += h.pipelines.Load() + h.commands.Load()
		sent += h.cmdsInPipelines.Load() + h.commands.Load()
		for name, n := range srv.CommandStats(ctx) {
			if name == "info" || name == "flushall" || strings.HasPrefix(name, "config") {
				continue
			}
			byCmd[name] += n
			cmds += n
		}
		scriptUsec += evalshaUsec(b, admin)
		stats = store.RecordStats() // the same every run: the corpus and the store's decisions are
		store.Close()
		b.StartTimer()
	}
	events := float64(len(raws) * b.N)
	var top strings.Builder
	for _, name := range slices.SortedFunc(maps.Keys(byCmd), func(x, y string) int { return int(byCmd[y] - byCmd[x]) }) {
		fmt.Fprintf(&top, "%s %.3f; ", name, float64(byCmd[name])/events)
	}
	b.Logf("%d events in batches of %d; commands per event: %s", len(raws), size, top.String())
	perRun := float64(len(raws))
	b.Logf("per event: record writes %.3f, page writes %.3f (appends %.3f), side writes %.3f (appends %.3f); SETs %.3f of %.0f B each, %.0f B per event",
		float64(stats.Writes)/perRun, float64(stats.PageWrites)/perRun, float64(stats.PageAppends)/perRun, float64(stats.SideWrites)/perRun, float64(stats.SideAppends)/perRun,
		float64(sets.n.Load())/events, float64(sets.bytes.Load())/max(float64(sets.n.Load()), 1), float64(sets.bytes.Load())/events)
	b.ReportMetric(float64(trips)/float64(batches), "trips/batch")
	b.ReportMetric(float64(sent)/events, "sent/event")
	b.ReportMetric(float64(cmds)/events, "cmds/event")
	b.ReportMetric(float64(cpu)/events, "redis-µs/event")
	b.ReportMetric(float64(scriptUsec)/events, "script-µs/event")
	b.ReportMetric(float64(goCPU.Microseconds())/events, "go-µs/event")
	b.ReportMetric(float64(mallocs)/events, "allocs/event")
	b.ReportMetric(0, "ns/op") // one op is the whole corpus: meaningless
}

// evalshaUsec is the time the server spent in EVALSHA (INFO commandstats
// usec, the commands scripts ran included).
func evalshaUsec(b *testing.B, c *goredis.Client) int64 {
	b.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:"); ok {
			for field := range strings.SplitSeq(rest, ",") {
				if v, ok := strings.CutPrefix(field, "usec="); ok {
					n, err := strconv.ParseInt(v, 10, 64)
					if err != nil {
						b.Fatalf("INFO commandstats %q: %v", line, err)
					}
					return n
				}
			}
		}
	}
	return 0
}
