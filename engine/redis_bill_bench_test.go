package engine_test

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpusrules"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
	redisstate "github.com/iamsentry/iamsentry/state/redis"
)

// BenchmarkRedisBillRealistic scores a month of a realistic account
// (internal/realcorpus at its default size) through the engine on a real
// redis-server, in micro-batches of 512 records, and reports what Redis
// charges for it, per event:
//
//   - cmds/event: commands the server ran, those run inside scripts
//     included (INFO commandstats calls);
//
//   - sent/event: commands the store sent (EVALSHA counts once);
//
//   - redis-µs/event: the server's own CPU (INFO cpu, user + system):
//     the whole cost, network I/O included;
//
//   - cmd-µs/event: time inside commands (INFO commandstats usec of the
//     commands sent, a script's usec covering what it runs);
//
//   - B/identity: used_memory growth over the month divided by the
//     identities holding state; state-B/identity the same for MEMORY USAGE
//     of their keys only (no dedupe claims, no server tables; records
//     holding only claims, record layout, are not identities either);
//     B/claim: MEMORY USAGE of one event's dedupe claim.
//
//   - go-µs/event: the benchmark process's own CPU (getrusage: the
//     engine, the detectors and the store's client side) while scoring;
//
//   - on the record layout, hit%: identities found in the replica-local
//     record cache; conflicts/event: record writes refused for a newer
//     version and retried; max-record-B: the largest record written.
//
// It runs once per layout of the Redis store (sub-benchmarks
// layout=keys and layout=record). Each pass starts from an empty server.
// It logs the commands that dominate. `make bench-redis-bill` runs it.
func BenchmarkRedisBillRealistic(b *testing.B) {
	c := realcorpus.Generate(realcorpus.Options{Seed: 1})
	raws := make([][]byte, len(c.Records))
	for i, r := range c.Records {
		raws[i] = r.JSON
	}
	c = nil
	built := realcorpusrules.Build(b)
	srv := redistest.StartServer(b)
	for _, layout := range []string{"keys", "record"} {
		b.Run("layout="+layout, func(b *testing.B) {
			benchRedisBill(b, srv, built, raws, layout)
		})
	}
}

func benchRedisBill(b *testing.B, srv *redistest.Server, built *config.Built, raws [][]byte, layout string) {
	const batch = 512
	ctx := context.Background()
	admin := srv.Client()
	var bill redisBill
	var goCPU int64
	var recs redisstate.RecordStats
	ops := opCounter{n: map[string]int64{}}
	for b.Loop() {
		b.StopTimer()
		if err := admin.FlushAll(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		if err := admin.ConfigResetStat(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		mem0 := srv.UsedMemory(ctx)
		cpu0 := redistest.CPU(b, admin)
		b.StartTimer()
		store := rstore.Open(b, srv.URL()+"?layout="+layout, rstore.Prefix())
		ops.Store = store
		sent := &sentCounter{}
		store.Client().AddHook(sent)
		eng := engine.New(built.Registry, &ops, engine.Options{Suppress: built.Suppress})
		go0 := processCPU(b)
		for off := 0; off < len(raws); off += batch {
			if _, err := eng.Score(ctx, engine.Batch{Records: raws[off:min(off+batch, len(raws))]}); err != nil {
				b.Fatal(err)
			}
		}
		goCPU += processCPU(b) - go0
		b.StopTimer()
		bill.add(b, admin, srv.UsedMemory(ctx)-mem0, redistest.CPU(b, admin)-cpu0, sent.n)
		st := store.RecordStats()
		recs.CacheHits += st.CacheHits
		recs.CacheMisses += st.CacheMisses
		recs.Conflicts += st.Conflicts
		recs.Writes += st.Writes
		recs.Checks += st.Checks
		recs.LargestRecord = max(recs.LargestRecord, st.LargestRecord)
		recs.SideReads += st.SideReads
		recs.SideWrites += st.SideWrites
		recs.PageWrites += st.PageWrites
		store.Close()
		b.StartTimer()
	}
	events := float64(len(raws) * b.N)
	bill.report(b, events, b.N)
	ops.report(b, events)
	b.ReportMetric(float64(goCPU)/events, "go-µs/event")
	if layout == "record" {
		b.ReportMetric(100*float64(recs.CacheHits)/float64(max(1, recs.CacheHits+recs.CacheMisses)), "hit%")
		b.ReportMetric(float64(recs.Conflicts)/events, "conflicts/event")
		b.ReportMetric(float64(recs.LargestRecord), "max-record-B")
		b.Logf("record layout: %d writes, %d version checks, %d cache hits, %d misses, %d conflicts, largest record %d B, %d pages and %d large entries written, %d of them read",
			recs.Writes, recs.Checks, recs.CacheHits, recs.CacheMisses, recs.Conflicts, recs.LargestRecord, recs.PageWrites, recs.SideWrites, recs.SideReads)
	}
}

// processCPU is the CPU time this process has used, user and system, in
// microseconds.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano()/1000 + ru.Stime.Nano()/1000
}

// opCounter counts the state operations the engine queues, by kind and
// key name, to tell which detectors the bill comes from.
type opCounter struct {
	state.Store
	n map[string]int64
}

// Unwrap exposes the counted store (state.GroupsIdentities).
func (o *opCounter) Unwrap() state.Store { return o.Store }

func (o *opCounter) Exec(ctx context.Context, b *state.Batch) error {
	for _, op := range b.Ops() {
		kind := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprintf("%T", op), "*state."), "Op")
		name := ""
		if k := reflect.ValueOf(op).Elem().FieldByName("Key"); k.IsValid() {
			name = k.Interface().(state.Key).Name
		}
		if i := strings.IndexAny(name, ":|/"); i > 0 {
			name = name[:i]
		}
		o.n[kind+" "+name]++
	}
	return o.Store.Exec(ctx, b)
}

func (o *opCounter) report(b *testing.B, events float64) {
	kinds := slices.Collect(maps.Keys(o.n))
	slices.SortFunc(kinds, func(x, y string) int { return int(o.n[y] - o.n[x]) })
	var total int64
	var top strings.Builder
	for i, k := range kinds {
		total += o.n[k]
		if i < 16 {
			fmt.Fprintf(&top, "%s %.2f; ", k, float64(o.n[k])/events)
		}
	}
	b.Logf("state operations %.2f/event: %s", float64(total)/events, top.String())
}

// redisBill accumulates a benchmark's passes.
type redisBill struct {
	calls, usec           map[string]int64
	sent, cpuMicros, mem  int64
	identities, stateUsed int64
	claims, claimUsed     int64
	byName                map[string]int64 // MEMORY USAGE by key name (up to its first ':')
}

func (r *redisBill) add(b *testing.B, c *goredis.Client, memGrown, cpuMicros, sent int64) {
	b.Helper()
	ctx := context.Background()
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	if r.calls == nil {
		r.calls, r.usec = map[string]int64{}, map[string]int64{}
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok || len(name) == len(line) || name == "info" || name == "flushall" || strings.HasPrefix(name, "config") {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(field, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "calls":
				r.calls[name] += n
			case "usec":
				r.usec[name] += n
			}
		}
	}
	r.sent += sent
	r.cpuMicros += cpuMicros
	r.mem += memGrown
	tags := map[string]bool{}
	byTag := map[string]int64{}
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		n, err := c.MemoryUsage(ctx, key).Result()
		if err != nil {
			b.Fatal(err)
		}
		tag := key[strings.IndexByte(key, '{'):strings.IndexByte(key, '}')]
		if strings.Contains(tag, ":event:") {
			r.claims++
			r.claimUsed += n
			continue
		}
		if strings.Contains(tag, ":claims:") {
			// The record layout's records of claims of events without an
			// access key: not an identity, so as not to dilute
			// B/identity; their bytes count in used_memory all the same.
			continue
		}
		tags[tag] = true
		byTag[tag] += n
		r.stateUsed += n
		name := key[strings.IndexByte(key, '}')+2:]
		if i := strings.IndexAny(name, ":|/"); i > 0 {
			name = name[:i]
		}
		if r.byName == nil {
			r.byName = map[string]int64{}
		}
		r.byName[name] += n
	}
	if err := iter.Err(); err != nil {
		b.Fatal(err)
	}
	r.identities += int64(len(tags))
	largest := slices.SortedFunc(maps.Keys(byTag), func(x, y string) int { return int(byTag[y] - byTag[x]) })
	var top strings.Builder
	for _, tag := range largest[:min(5, len(largest))] {
		fmt.Fprintf(&top, "%s} %d B; ", tag, byTag[tag])
	}
	b.Logf("largest identities (MEMORY USAGE): %s", top.String())
	if len(largest) > 0 {
		key := ""
		iter := c.Scan(ctx, 0, "*"+largest[0]+"}:rec", 10).Iterator()
		for iter.Next(ctx) {
			key = iter.Val()
		}
		if v, err := c.Get(ctx, key).Bytes(); err == nil {
			b.Logf("largest record: %s", redisstate.DescribeRecord(v))
		}
	}
}

func (r *redisBill) report(b *testing.B, events float64, passes int) {
	var calls, scriptUsec int64
	for _, n := range r.calls {
		calls += n
	}
	// Script commands' usec covers what they run; the commands sent
	// bare are the rest of the time. A plain command that scripts also
	// run counts at the share of its calls that were sent bare (at most
	// all of them, which is when no script runs it).
	names := slices.Collect(maps.Keys(r.calls))
	slices.SortFunc(names, func(x, y string) int { return int(r.calls[y] - r.calls[x]) })
	p := int64(passes)
	b.Logf("%d events a pass; %d identities with state, %d dedupe claims at the end", int64(events)/p, r.identities/p, r.claims/p)
	var top strings.Builder
	for i, name := range names {
		if i < 12 {
			fmt.Fprintf(&top, "%s %.2f calls/event %.2f µs/event; ", name, float64(r.calls[name])/events, float64(r.usec[name])/events)
		}
		if name == "evalsha" || name == "eval" {
			scriptUsec += r.usec[name]
		}
	}
	sentBare := r.sent - r.calls["evalsha"] - r.calls["eval"]
	var bareUsec float64
	var bareCalls int64
	for _, name := range names {
		if name != "evalsha" && name != "eval" && !strings.HasPrefix(name, "script") {
			bareCalls += r.calls[name]
		}
	}
	if bareCalls > 0 && sentBare > 0 {
		var all int64
		for _, name := range names {
			if name != "evalsha" && name != "eval" && !strings.HasPrefix(name, "script") {
				all += r.usec[name]
			}
		}
		bareUsec = float64(all) * min(1, float64(sentBare)/float64(bareCalls))
	}
	b.Logf("by command: %s", top.String())
	var mem strings.Builder
	for _, name := range slices.SortedFunc(maps.Keys(r.byName), func(x, y string) int { return int(r.byName[y] - r.byName[x]) }) {
		fmt.Fprintf(&mem, "%s %.0f kB; ", name, float64(r.byName[name])/float64(p)/1000)
	}
	b.Logf("state memory by key name, a pass: %s", mem.String())
	b.ReportMetric(float64(calls)/events, "cmds/event")
	b.ReportMetric(float64(r.sent)/events, "sent/event")
	b.ReportMetric(float64(r.cpuMicros)/events, "redis-µs/event")
	b.ReportMetric((float64(scriptUsec)+bareUsec)/events, "cmd-µs/event")
	b.ReportMetric(float64(r.mem)/float64(r.identities), "B/identity")
	b.ReportMetric(float64(r.stateUsed)/float64(r.identities), "state-B/identity")
	if r.claims > 0 {
		b.ReportMetric(float64(r.claimUsed)/float64(r.claims), "B/claim")
	}
	b.ReportMetric(0, "ns/op") // one op is a whole month: meaningless
}

// sentCounter counts the commands a client sends, pipelined or not.
type sentCounter struct{ n int64 }

func (h *sentCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *sentCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		h.n++
		return next(ctx, cmd)
	}
}

func (h *sentCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		h.n += int64(len(cmds))
		return next(ctx, cmds)
	}
}
