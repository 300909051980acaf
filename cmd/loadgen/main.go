// Command loadgen measures an iamsentry server under load: it streams a
// generated multi-identity corpus (plus any CloudTrail files given) over
// concurrent Score streams and reports events/s, verdict latency, and, when
// it starts the server itself, server CPU per 10k events, Redis commands per
// event and state round trips per batch.
//
//	loadgen --addr host:port                      # an already running server
//	loadgen --spawn bin/iamsentry                 # start serve (embedded store)
//	loadgen --spawn bin/iamsentry --with-redis    # start redis-server and serve --redis
//	loadgen --spawn bin/iamsentry --rate 5000 --duration 10s
//	loadgen --spawn bin/iamsentry --with-redis --corpus realistic
//
// --corpus realistic sends internal/realcorpus's month (181,861 records of
// 145 identities at the default size, attacks woven in) in event-time order
// instead of the generated corpus, and serves it with the corpus's
// configuration and GeoIP databases of its networks, which loadgen writes
// to a temporary directory (see loadgen.WriteRealisticConfig).
//
// By default it is closed-loop: each stream keeps --window requests in
// flight, which measures throughput. With --rate it is open-loop instead:
// events are offered on a fixed schedule, whatever the server does, for
// --duration (or --events), and each event's verdict latency is measured from
// the time it was due, so a stall shows up in the percentiles (see
// internal/loadgen.RunRate). It only ever targets a loopback address: the
// server it spawns, or --addr on 127.0.0.0/8 or ::1.
//
// `make bench` runs it both ways.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/internal/corpus"
	"github.com/iamsentry/iamsentry/internal/loadgen"
)

type options struct {
	addr, spawn, redisURL, redisServer string
	withRedis                          bool
	corpus                             string
	events, streams, batch, window     int
	eventsSet                          bool // --events was given
	config                             string
	seed                               uint64
	serveArgs                          string
	jsonOut                            bool
	rate                               float64
	duration                           time.Duration
	cpuProfile                         string
	procs                              int
	preciseTimer                       bool
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "", "address of a running server (host:port); exclusive with --spawn")
	flag.StringVar(&o.spawn, "spawn", "", "start this iamsentry `binary` with serve on a free loopback port and measure it")
	flag.BoolVar(&o.withRedis, "with-redis", false, "with --spawn: start redis-server on a free loopback port and serve with --redis")
	flag.StringVar(&o.redisServer, "redis-server", "redis-server", "redis-server `binary` for --with-redis")
	flag.StringVar(&o.redisURL, "redis", "", "URL of the Redis the server uses, to read INFO commandstats (set by --with-redis)")
	flag.StringVar(&o.serveArgs, "serve-args", "", "extra arguments for the spawned serve, space-separated")
	flag.StringVar(&o.corpus, "corpus", "generated", "what to send: generated (internal/corpus, sized to --events) or realistic (internal/realcorpus's month in event-time order, cut to --events when given)")
	flag.IntVar(&o.events, "events", 100000, "records to send (the corpus is cut to this size; --corpus realistic sends the whole month unless given)")
	flag.IntVar(&o.streams, "streams", 8, "concurrent Score streams")
	flag.IntVar(&o.batch, "batch", 100, "events per request")
	flag.IntVar(&o.window, "window", 4, "requests in flight per stream")
	flag.Uint64Var(&o.seed, "seed", 1, "corpus seed")
	flag.BoolVar(&o.jsonOut, "json", false, "print the report as JSON")
	flag.Float64Var(&o.rate, "rate", 0, "open loop: offer this many `events/s` on a fixed schedule and report latency from each event's due time (default: closed loop)")
	flag.DurationVar(&o.duration, "duration", 0, "with --rate: run this long (sets --events to rate × duration)")
	flag.StringVar(&o.cpuProfile, "cpu-profile", "", "write loadgen's own CPU profile over the load (not the corpus set-up) to this `file`")
	flag.IntVar(&o.procs, "procs", 0, "GOMAXPROCS of loadgen itself (0: the Go default, one per core); the spawned server keeps its own. 1 halves loadgen's context switches in an open loop, but its timers then fire up to 1 ms late (the runtime polls on a 1 ms timeout) and that lag counts as latency")
	flag.BoolVar(&o.preciseTimer, "precise-timer", false, "with --rate: sleep on a timerfd, not the runtime's timers, so the sender is microseconds rather than up to a millisecond behind each due time (it costs loadgen more CPU per wake)")
	flag.Parse()
	flag.Visit(func(f *flag.Flag) { o.eventsSet = o.eventsSet || f.Name == "events" })
	if err := o.check(); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		flag.Usage()
		os.Exit(2)
	}
	if o.procs > 0 {
		runtime.GOMAXPROCS(o.procs)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, flag.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
		os.Exit(1)
	}
}

// maxRateEvents bounds an open-loop run: one latency sample is kept per
// event (16 bytes with the per-second view), and a run this long at 20k
// events/s is over 8 minutes.
const maxRateEvents = 10_000_000

// check validates the flags: one target, on loopback; a bounded open loop;
// a known corpus.
func (o *options) check() error {
	switch o.corpus {
	case "", "generated":
		o.corpus = "generated"
	case "realistic":
		if !o.eventsSet {
			o.events = 0 // the whole month, unless --duration sizes an open loop below
		}
	default:
		return fmt.Errorf("--corpus %q: want generated or realistic", o.corpus)
	}
	if (o.addr == "") == (o.spawn == "") || (o.withRedis && o.spawn == "") {
		return errors.New("give exactly one of --addr or --spawn (--with-redis needs --spawn)")
	}
	if o.addr != "" {
		if err := loopback(o.addr); err != nil {
			return fmt.Errorf("--addr: %w", err)
		}
	}
	if o.rate < 0 || (o.rate == 0 && o.duration != 0) {
		return errors.New("--duration needs a positive --rate")
	}
	if o.procs < 0 {
		return fmt.Errorf("--procs %d: want 1 or more (or 0 for the default)", o.procs)
	}
	if o.rate > 0 && o.duration > 0 {
		o.events = int(math.Ceil(o.rate * o.duration.Seconds()))
	}
	wholeMonth := o.corpus == "realistic" && o.events == 0 // bounded by the month's size
	if o.rate > 0 && !wholeMonth && (o.events <= 0 || o.events > maxRateEvents) {
		return fmt.Errorf("an open-loop run offers 1 to %d events; --rate %v for this long offers %d", maxRateEvents, o.rate, o.events)
	}
	return nil
}

// loopback refuses an address that is not on this machine: loadgen is a
// load test, and load goes only to servers of our own.
func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address (127.0.0.0/8, ::1, localhost)", host)
	}
	return nil
}

// result is the report printed at the end.
type result struct {
	Corpus           string         `json:"corpus"`
	GeoIP            string         `json:"geoip,omitempty"`
	Events           int            `json:"events"`
	Requests         int            `json:"requests"`
	Seconds          float64        `json:"seconds"`
	EventsPerSecond  float64        `json:"events_per_second"`
	P50Millis        float64        `json:"p50_ms"`
	P99Millis        float64        `json:"p99_ms"`
	P999Millis       float64        `json:"p99_9_ms,omitempty"`
	MaxMillis        float64        `json:"max_ms,omitempty"`
	OfferedRate      float64        `json:"offered_events_per_second,omitempty"`
	MaxSendLagMillis float64        `json:"max_send_lag_ms,omitempty"`
	SenderWakes      int            `json:"sender_wakes,omitempty"`
	SendLagP50Millis float64        `json:"send_lag_p50_ms,omitempty"`
	SendLagP99Millis float64        `json:"send_lag_p99_ms,omitempty"`
	Outcomes         map[string]int `json:"outcomes"`
	Streams          int            `json:"streams"`
	Batch            int            `json:"batch"`
	Window           int            `json:"window"`
	State            string         `json:"state"`
	ClientCPUSeconds float64        `json:"client_cpu_seconds,omitempty"`
	ClientReads      float64        `json:"client_read_syscalls_per_event,omitempty"`
	ClientWrites     float64        `json:"client_write_syscalls_per_event,omitempty"`
	ClientSwitches   float64        `json:"client_context_switches_per_event,omitempty"`
	ServerCPUSeconds float64        `json:"server_cpu_seconds,omitempty"`
	CPUPer10k        float64        `json:"server_cpu_seconds_per_10k_events,omitempty"`
	ServerPerCPUSec  float64        `json:"events_per_server_cpu_second,omitempty"`
	ServerAllocs     float64        `json:"server_allocs_per_event,omitempty"`
	ServerAllocBytes float64        `json:"server_alloc_bytes_per_event,omitempty"`
	ServerReads      float64        `json:"server_read_syscalls_per_event,omitempty"`
	ServerWrites     float64        `json:"server_write_syscalls_per_event,omitempty"`
	RedisCPUSeconds  float64        `json:"redis_cpu_seconds,omitempty"`
	RedisMicros      float64        `json:"redis_cpu_us_per_event,omitempty"`
	RedisCommands    int64          `json:"redis_commands,omitempty"`
	RedisBytesIn     float64        `json:"redis_bytes_in_per_event,omitempty"`
	RedisPerEvent    float64        `json:"redis_commands_per_event,omitempty"`
	RedisTop         []string       `json:"redis_top_commands,omitempty"`
	Batches          int64          `json:"server_batches,omitempty"`
	RoundTrips       int64          `json:"state_round_trips,omitempty"`
	TripsPerBatch    float64        `json:"round_trips_per_batch,omitempty"`
	QuietTrips       float64        `json:"round_trips_per_no_alert_batch,omitempty"`
	QuietBatches     int64          `json:"no_alert_batches,omitempty"`
	EventsPerBatch   float64        `json:"events_per_batch,omitempty"`
	// Seconds is an open-loop run second by second (see
	// loadgen.RateReport.Seconds).
	BySecond []second `json:"by_second,omitempty"`
}

// second is one second of an open-loop run in the report.
type second struct {
	Due       int     `json:"due"`
	Answered  int     `json:"answered"`
	P50Millis float64 `json:"p50_ms"`
	P99Millis float64 `json:"p99_ms"`
	MaxMillis float64 `json:"max_ms"`
}

func run(ctx context.Context, o options, files []string) error {
	recs, err := loadCorpus(o, files)
	if err != nil {
		return err
	}
	res := result{Corpus: o.corpus, Streams: o.streams, Batch: o.batch, Window: o.window, State: "memory"}
	var srv *serverProcess
	if o.spawn != "" {
		if o.corpus == "realistic" {
			dir, err := os.MkdirTemp("", "loadgen-realistic-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			if o.config, err = loadgen.WriteRealisticConfig(dir); err != nil {
				return err
			}
			res.GeoIP = "databases of the corpus's networks, written by loadgen (" + dir + ")"
		}
		if o.withRedis {
			url, stopRedis, err := startRedis(o.redisServer)
			if err != nil {
				return err
			}
			defer stopRedis()
			o.redisURL = url
		}
		srv, err = startServer(o)
		if err != nil {
			return err
		}
		defer srv.kill()
		o.addr = srv.addr
	}
	if o.redisURL != "" {
		res.State = "redis"
	}
	if o.corpus == "realistic" && srv == nil {
		res.GeoIP = "the running server's own configuration (not set by loadgen)"
	}
	var rdb *redis.Client
	var before map[string]int64
	var cpu0 time.Duration
	var in0 int64
	if o.redisURL != "" {
		ropts, err := redis.ParseURL(o.redisURL)
		if err != nil {
			return fmt.Errorf("--redis: %w", err)
		}
		rdb = redis.NewClient(ropts)
		defer rdb.Close()
		if before, err = commandStats(ctx, rdb); err != nil {
			return err
		}
		if cpu0, err = redisCPU(ctx, rdb); err != nil {
			return err
		}
		if in0, err = redisBytesIn(ctx, rdb); err != nil {
			return err
		}
	}
	conn, err := grpc.NewClient(o.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	var heap0 heapCounters
	var io0 ioCounters
	ioErr := errors.New("no server spawned")
	if srv != nil {
		if heap0, err = readHeapCounters(ctx, srv.admin); err != nil {
			return err
		}
		io0, ioErr = readIOCounters(srv.cmd.Process.Pid)
	}
	stopProfile, err := startCPUProfile(o.cpuProfile)
	if err != nil {
		return err
	}
	self0, selfErr := readIOCounters(os.Getpid())
	cpu, switches := processCPU(), contextSwitches()
	err = drive(ctx, conn, o, recs, &res)
	res.ClientCPUSeconds = (processCPU() - cpu).Seconds()
	if res.Events > 0 {
		res.ClientSwitches = float64(contextSwitches()-switches) / float64(res.Events)
		if self1, err := readIOCounters(os.Getpid()); err == nil && selfErr == nil {
			res.ClientReads = float64(self1.reads-self0.reads) / float64(res.Events)
			res.ClientWrites = float64(self1.writes-self0.writes) / float64(res.Events)
		}
	}
	if perr := stopProfile(); err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	if srv != nil && res.Events > 0 {
		heap1, err := readHeapCounters(ctx, srv.admin)
		if err != nil {
			return err
		}
		res.ServerAllocs = (heap1.mallocs - heap0.mallocs) / float64(res.Events)
		res.ServerAllocBytes = (heap1.bytes - heap0.bytes) / float64(res.Events)
		if ioErr == nil { // not on every kernel: the figure is left out then
			if io1, err := readIOCounters(srv.cmd.Process.Pid); err == nil {
				res.ServerReads = float64(io1.reads-io0.reads) / float64(res.Events)
				res.ServerWrites = float64(io1.writes-io0.writes) / float64(res.Events)
			}
		}
	}
	if rdb != nil {
		after, err := commandStats(ctx, rdb)
		if err != nil {
			return err
		}
		cpu1, err := redisCPU(ctx, rdb)
		if err != nil {
			return err
		}
		in1, err := redisBytesIn(ctx, rdb)
		if err != nil {
			return err
		}
		res.RedisBytesIn = float64(in1-in0) / float64(res.Events)
		res.RedisCPUSeconds = (cpu1 - cpu0).Seconds()
		res.RedisMicros = float64((cpu1 - cpu0).Microseconds()) / float64(res.Events)
		type kv struct {
			k string
			v int64
		}
		var top []kv
		for k, v := range after {
			if d := v - before[k]; d > 0 && k != "info" {
				res.RedisCommands += d
				top = append(top, kv{k, d})
			}
		}
		slices.SortFunc(top, func(a, b kv) int { return int(b.v - a.v) })
		for _, t := range top[:min(len(top), 6)] {
			res.RedisTop = append(res.RedisTop, fmt.Sprintf("%s=%.2f/event", t.k, float64(t.v)/float64(res.Events)))
		}
		res.RedisPerEvent = float64(res.RedisCommands) / float64(res.Events)
	}
	if srv != nil {
		st, err := srv.stop()
		if err != nil {
			return err
		}
		res.ServerCPUSeconds = st.cpu.Seconds()
		res.CPUPer10k = st.cpu.Seconds() / float64(res.Events) * 10000
		if st.cpu > 0 {
			res.ServerPerCPUSec = float64(res.Events) / st.cpu.Seconds()
		}
		res.Batches, res.RoundTrips = st.Batches, st.RoundTrips
		if st.QuietBatches > 0 {
			res.QuietBatches = st.QuietBatches
			res.QuietTrips = float64(st.QuietRoundTrips) / float64(st.QuietBatches)
		}
		if st.Batches > 0 {
			res.TripsPerBatch = float64(st.RoundTrips) / float64(st.Batches)
			res.EventsPerBatch = float64(st.Records) / float64(st.Batches)
		}
	}
	return report(os.Stdout, res, o.jsonOut)
}

// drive runs the load, closed or open loop, and fills in what the client
// measured.
func drive(ctx context.Context, conn *grpc.ClientConn, o options, recs [][]byte, res *result) error {
	if o.rate > 0 {
		cfg := loadgen.RateConfig{Records: recs, Rate: o.rate, Events: o.events, Streams: o.streams, Batch: o.batch}
		if o.preciseTimer {
			clock, release := loadgen.PreciseClock()
			defer release()
			cfg.Clock = clock
		}
		rep, err := loadgen.RunRate(ctx, loadgen.OpenScore(conn), cfg)
		if err != nil {
			return err
		}
		res.Events, res.Requests, res.Outcomes = rep.Events, rep.Requests, rep.Outcomes
		res.Seconds, res.EventsPerSecond, res.OfferedRate = rep.Elapsed.Seconds(), rep.AchievedRate(), o.rate
		res.P50Millis, res.P99Millis = millis(rep.Percentile(50)), millis(rep.Percentile(99))
		res.P999Millis, res.MaxMillis = millis(rep.Percentile(99.9)), millis(rep.Percentile(100))
		res.MaxSendLagMillis = millis(rep.MaxSendLag)
		res.SenderWakes = rep.Wakes
		res.SendLagP50Millis, res.SendLagP99Millis = millis(rep.SendLagPercentile(50)), millis(rep.SendLagPercentile(99))
		for _, s := range rep.Seconds {
			res.BySecond = append(res.BySecond, second{Due: s.Due, Answered: s.Answered,
				P50Millis: millis(s.P50), P99Millis: millis(s.P99), MaxMillis: millis(s.Max)})
		}
		return nil
	}
	rep, err := loadgen.Run(ctx, conn, loadgen.Config{Records: recs, Streams: o.streams, Batch: o.batch, Window: o.window})
	if err != nil {
		return err
	}
	res.Events, res.Requests, res.Outcomes = rep.Events, rep.Requests, rep.Outcomes
	res.Seconds = rep.Elapsed.Seconds()
	res.EventsPerSecond = rep.EventsPerSecond()
	res.P50Millis, res.P99Millis = millis(rep.Percentile(50)), millis(rep.Percentile(99))
	return nil
}

// processCPU is the CPU this process has used so far, user and system, all
// threads.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// contextSwitches is how often this process's threads have been switched
// out so far, voluntarily (a thread parking in a futex or epoll) or not:
// per event, what the generator's goroutine wake-ups cost the kernel, which
// the machine's noise moves much less than CPU time.
func contextSwitches() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Nvcsw + ru.Nivcsw
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func report(w io.Writer, r result, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	if r.GeoIP != "" {
		fmt.Fprintf(w, "corpus=%s; GeoIP: %s\n", r.Corpus, r.GeoIP)
	}
	if r.OfferedRate > 0 {
		fmt.Fprintf(w, "state=%s open loop at %.0f events/s, streams=%d batch<=%d\n", r.State, r.OfferedRate, r.Streams, r.Batch)
		fmt.Fprintf(w, "  %d events in %d requests, %.2f s: achieved %.0f events/s (sender at most %.2f ms behind schedule)\n",
			r.Events, r.Requests, r.Seconds, r.EventsPerSecond, r.MaxSendLagMillis)
		if r.Events > 0 && r.SenderWakes > 0 {
			// What the generator costs follows its wake-ups and requests
			// more than its events.
			fmt.Fprintf(w, "  sender woke %d times: %.3f wakes and %.3f requests per event; sent p50 %.2f ms, p99 %.2f ms after the due time\n",
				r.SenderWakes, float64(r.SenderWakes)/float64(r.Events), float64(r.Requests)/float64(r.Events), r.SendLagP50Millis, r.SendLagP99Millis)
		}
		fmt.Fprintf(w, "  verdict latency from the due time: p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
			r.P50Millis, r.P99Millis, r.P999Millis, r.MaxMillis)
		reportSeconds(w, r.BySecond)
	} else {
		fmt.Fprintf(w, "state=%s streams=%d batch=%d window=%d\n", r.State, r.Streams, r.Batch, r.Window)
		fmt.Fprintf(w, "  %d events in %d requests, %.2f s: %.0f events/s\n", r.Events, r.Requests, r.Seconds, r.EventsPerSecond)
		fmt.Fprintf(w, "  request latency p50 %.2f ms, p99 %.2f ms\n", r.P50Millis, r.P99Millis)
	}
	fmt.Fprintf(w, "  outcomes %v\n", r.Outcomes)
	if r.ClientCPUSeconds > 0 && r.Events > 0 {
		// The generator shares the machine with what it measures: what it
		// burns is CPU the server and Redis did not get.
		fmt.Fprintf(w, "  loadgen's own CPU %.2f s: %.3f s per 10k events\n", r.ClientCPUSeconds, r.ClientCPUSeconds/float64(r.Events)*10000)
		if r.ClientSwitches > 0 {
			fmt.Fprintf(w, "  loadgen's own system calls %.3f reads, %.3f writes, and %.3f context switches per event\n",
				r.ClientReads, r.ClientWrites, r.ClientSwitches)
		}
	}
	if r.ServerCPUSeconds > 0 {
		fmt.Fprintf(w, "  server CPU %.2f s: %.3f s per 10k events, %.0f events per server CPU-second\n", r.ServerCPUSeconds, r.CPUPer10k, r.ServerPerCPUSec)
		fmt.Fprintf(w, "  server heap allocations %.1f per event, %.0f B per event (its /metrics, over the run)\n", r.ServerAllocs, r.ServerAllocBytes)
		if r.ServerReads+r.ServerWrites > 0 {
			fmt.Fprintf(w, "  server system calls %.3f reads, %.3f writes per event (/proc/<pid>/io syscr, syscw)\n", r.ServerReads, r.ServerWrites)
		}
		fmt.Fprintf(w, "  server micro-batches %d (%.1f events each), state round trips %d: %.3f per batch; %.3f per no-alert batch (%d of them)\n",
			r.Batches, r.EventsPerBatch, r.RoundTrips, r.TripsPerBatch, r.QuietTrips, r.QuietBatches)
	}
	if r.RedisCommands > 0 {
		fmt.Fprintf(w, "  redis commands %d: %.2f per event (%s)\n", r.RedisCommands, r.RedisPerEvent, strings.Join(r.RedisTop, " "))
		fmt.Fprintf(w, "  redis CPU %.2f s (INFO cpu, user + system): %.1f µs per event\n", r.RedisCPUSeconds, r.RedisMicros)
		fmt.Fprintf(w, "  redis bytes in %.0f per event (INFO stats total_net_input_bytes)\n", r.RedisBytesIn)
	}
	return nil
}

// reportSeconds prints an open-loop run second by second: the events due
// and the verdicts answered in each, and the latencies of those due in it.
func reportSeconds(w io.Writer, secs []second) {
	if len(secs) == 0 {
		return
	}
	fmt.Fprintf(w, "  per second of the schedule:  sec    due  answered  p50 ms  p99 ms  max ms\n")
	for i, s := range secs {
		fmt.Fprintf(w, "                              %3d %6d %9d %7.1f %7.1f %7.1f\n", i, s.Due, s.Answered, s.P50Millis, s.P99Millis, s.MaxMillis)
	}
}

// loadCorpus generates records and appends any CloudTrail files given. The
// generated part is sized to o.events (the realistic month is cut to it when
// it is positive).
func loadCorpus(o options, files []string) ([][]byte, error) {
	if o.corpus == "realistic" {
		return appendFiles(loadgen.Realistic(o.seed, o.events), files)
	}
	users := max(12, o.events/120)
	gen := corpus.Generate(corpus.Options{Seed: o.seed, Users: users, Incidents: max(3, users/10)})
	for len(gen) < o.events { // a few users make fewer than 120 records each
		users *= 2
		gen = corpus.Generate(corpus.Options{Seed: o.seed, Users: users, Incidents: max(3, users/10)})
	}
	var out [][]byte
	for _, r := range gen[:min(len(gen), o.events)] {
		out = append(out, r.JSON)
	}
	return appendFiles(out, files)
}

// appendFiles appends the records of the CloudTrail files (or the files
// under the directories) given to out.
func appendFiles(out [][]byte, files []string) ([][]byte, error) {
	for _, f := range files {
		err := filepath.WalkDir(f, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			fh, err := os.Open(path)
			if err != nil {
				return err
			}
			defer fh.Close()
			items, err := cloudtrail.ReadAll(fh, cloudtrail.Options{})
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			for _, it := range items {
				out = append(out, it.Raw)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func commandStats(ctx context.Context, rdb *redis.Client) (map[string]int64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("redis INFO commandstats: %w", err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, field := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				out[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return out, nil
}

// redisBytesIn is what redis-server has read from its clients since it
// started (INFO stats total_net_input_bytes): per event, what the state
// writes cost on the wire, which no noise moves at a given batch size.
func redisBytesIn(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "stats").Result()
	if err != nil {
		return 0, fmt.Errorf("redis INFO stats: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_net_input_bytes:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("redis INFO stats %q: %w", line, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("redis INFO stats: no total_net_input_bytes")
}

// redisCPU is the CPU redis-server has used since it started, user and
// system (INFO cpu).
func redisCPU(ctx context.Context, rdb *redis.Client) (time.Duration, error) {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, fmt.Errorf("redis INFO cpu: %w", err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		name, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if name == "used_cpu_user" || name == "used_cpu_sys" {
			secs, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("redis INFO cpu %q: %w", line, err)
			}
			total += secs
		}
	}
	return time.Duration(total * float64(time.Second)), nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitDial(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("process exited before serving on %s", addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("nothing serves on %s after 30 s", addr)
}

// startRedis starts a throwaway redis-server without persistence.
func startRedis(bin string) (string, func(), error) {
	addr, err := freePort()
	if err != nil {
		return "", nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	dir, err := os.MkdirTemp("", "loadgen-redis-")
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("starting %s (install it with `make redis`): %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() { cmd.Process.Kill(); <-exited; os.RemoveAll(dir) }
	if err := waitDial(addr, exited); err != nil {
		stop()
		return "", nil, err
	}
	return "redis://" + addr, stop, nil
}

// serverProcess is a spawned iamsentry serve.
type serverProcess struct {
	cmd    *exec.Cmd
	addr   string
	admin  string // admin listener (/metrics), for the heap counters
	exited chan struct{}
	mu     sync.Mutex
	stats  *serverStats
	log    strings.Builder
}

type serverStats struct {
	Batches         int64 `json:"batches"`
	Records         int64 `json:"records"`
	RoundTrips      int64 `json:"state_round_trips"`
	QuietBatches    int64 `json:"quiet_batches"`
	QuietRoundTrips int64 `json:"quiet_round_trips"`
	cpu             time.Duration
}

func startServer(o options) (*serverProcess, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	admin, err := freePort()
	if err != nil {
		return nil, err
	}
	// Spawned replicas share the host: the admin listener on a free port,
	// not :9090, for the heap counters on its /metrics.
	args := []string{"serve", "--listen", addr, "--admin-listen", admin, "--log-format", "json"}
	if o.redisURL != "" {
		args = append(args, "--redis", o.redisURL)
	}
	if o.config != "" {
		args = append(args, "--config", o.config)
	}
	args = append(args, strings.Fields(o.serveArgs)...)
	p := &serverProcess{cmd: exec.Command(o.spawn, args...), addr: addr, admin: admin, exited: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", o.spawn, err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			p.mu.Lock()
			p.log.Write(line)
			p.log.WriteByte('\n')
			var m struct {
				Msg string `json:"msg"`
				serverStats
			}
			if json.Unmarshal(line, &m) == nil && m.Msg == "stopped" {
				st := m.serverStats
				p.stats = &st
			}
			p.mu.Unlock()
		}
		p.cmd.Wait()
		close(p.exited)
	}()
	for _, a := range []string{addr, admin} {
		if err := waitDial(a, p.exited); err != nil {
			p.kill()
			return nil, fmt.Errorf("%w\n%s", err, p.log.String())
		}
	}
	return p, nil
}

// stop ends the server with SIGTERM and returns what it reported and the
// CPU it used (user + system, from the kernel's accounting).
func (p *serverProcess) stop() (*serverStats, error) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		p.kill()
		return nil, errors.New("server did not stop within 60 s of SIGTERM")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stats == nil {
		return nil, fmt.Errorf("server logged no stop statistics:\n%s", p.log.String())
	}
	st := *p.stats
	st.cpu = p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
	return &st, nil
}

func (p *serverProcess) kill() {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Kill()
		<-p.exited
	}
}
