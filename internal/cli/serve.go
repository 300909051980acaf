package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/telemetry"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/server/auth"
	"github.com/iamsentry/iamsentry/server/findings"
	"github.com/iamsentry/iamsentry/state/instrumented"
)

type serveFlags struct {
	listen, adminListen string
	config, logFormat   string
	redis               string
	stateBudget         stateBudget
	gcPercent           int  // --gc-percent, read when gcPercentGiven
	gcPercentGiven      bool // --gc-percent was on the command line
	logLevel            slog.Level
	dedupeHorizon       time.Duration
	maxRecordSize       int
	cpuProfile          string
	trace               string
	opts                server.Options
	sec                 securityFlags
	src                 sourceFlags
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.listen, "listen", ":50051", "gRPC listen address `host:port`")
	fs.StringVar(&f.adminListen, "admin-listen", ":9090", "admin HTTP listen address `host:port` for /metrics (Prometheus), /healthz and /readyz; empty disables it")
	fs.StringVar(&f.config, "config", "", "configuration `file` (YAML); default: built-in defaults")
	fs.StringVar(&f.redis, "redis", "", "shared state in Redis: a redis:// or rediss:// `URL` or an address list (Sentinel: ?master_name=, Cluster: several hosts or ?cluster=true); overrides $REDIS_URL and the config's redis.url; default: the embedded store (single replica)")
	fs.Var(&f.stateBudget, "state-budget", stateBudgetUsage)
	fs.IntVar(&f.gcPercent, "gc-percent", 0, serveGCPercentUsage)
	fs.StringVar(&f.logFormat, "log-format", "auto", "log format: auto (text on a terminal, else json), json or text")
	fs.TextVar(&f.logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	fs.DurationVar(&f.dedupeHorizon, "dedupe-horizon", engine.DefaultDedupeHorizon, "how long an event id and its verdict are remembered for retries")
	fs.IntVar(&f.maxRecordSize, "max-record-size", 256<<10, "largest CloudTrail record accepted, `bytes`")
	fs.IntVar(&f.opts.MaxRecvMsgSize, "max-recv-msg-size", server.DefaultMaxRecvMsgSize, "largest gRPC request message, `bytes`")
	fs.IntVar(&f.opts.MaxEventsPerRequest, "max-events-per-request", server.DefaultMaxEventsPerRequest, "most events in one request")
	fs.IntVar(&f.opts.BatchSize, "batch-size", server.DefaultBatchSize, "most records in one micro-batch")
	fs.DurationVar(&f.opts.BatchLinger, "batch-linger", server.DefaultBatchLinger, "how long a micro-batch waits to fill under light traffic")
	fs.DurationVar(&f.opts.BatchBusyLinger, "batch-busy-linger", server.DefaultBatchBusyLinger, "without --batch-linger: how long a small micro-batch waits for one in flight to finish, taking the work that arrives (Nagle's rule; paid only when batches overlap); negative: never")
	fs.IntVar(&f.opts.Workers, "batch-workers", 0, "most micro-batches scored at once (default GOMAXPROCS)")
	fs.DurationVar(&f.opts.GracePeriod, "grace-period", server.DefaultGracePeriod, "how long shutdown waits for in-flight calls")
	fs.BoolVar(&f.opts.MetricsTenantLabel, "metrics-tenant-label", false, "label records received on /metrics with the tenant; off because /metrics is unauthenticated and tenant names say who is served")
	fs.StringVar(&f.cpuProfile, "cpu-profile", "", "write a CPU profile of the server, from start to shutdown, to `file` (go tool pprof)")
	fs.StringVar(&f.trace, "trace", "", "write a Go execution trace of the server, from start to shutdown, to `file` (go tool trace; costly: trace seconds, not hours)")
	f.registerTransport(fs)
	f.sec.register(fs)
	f.src.register(fs)
}

// registerTransport registers the flags for shippers' traffic: receive
// limits, keepalive, connection age, Watch.
func (f *serveFlags) registerTransport(fs *flag.FlagSet) {
	fs.IntVar(&f.opts.IngestMaxRecvMsgSize, "ingest-max-recv-msg-size", server.DefaultIngestMaxRecvMsgSize, "largest OTLP or Vector batch, `bytes`; such batches are not held to --max-events-per-request")
	fs.IntVar(&f.opts.MaxIngestRecords, "ingest-max-records", server.DefaultMaxIngestRecords, "most records in one OTLP or Vector batch, counted before it is decoded")
	fs.IntVar(&f.opts.MaxDecompressionRatio, "max-decompression-ratio", server.DefaultMaxDecompressionRatio, "gzip requests: most bytes a request may decompress to per byte sent (beyond 64 KiB)")
	fs.IntVar(&f.opts.MaxConcurrentStreams, "max-concurrent-streams", server.DefaultMaxConcurrentStreams, "most concurrent calls on one connection")
	fs.IntVar(&f.opts.MaxStreams, "max-streams", server.DefaultMaxStreams, "most concurrent calls in the process, over all connections")
	fs.IntVar(&f.opts.MaxOpenStreams, "max-open-streams", server.DefaultMaxOpenStreams, "most concurrent health-check and reflection calls (which may come without credentials) in the process")
	fs.IntVar(&f.opts.ReadAheadBytes, "read-ahead-bytes", server.DefaultReadAheadBytes, "`bytes` of requests a Score stream reads ahead of its answers")
	fs.IntVar(&f.opts.ReadAheadTotal, "read-ahead-total", server.DefaultReadAheadTotal, "`bytes` of requests all Score streams together read ahead of their answers")
	fs.DurationVar(&f.opts.KeepaliveMinTime, "keepalive-min-time", server.DefaultKeepaliveMinTime, "shortest interval at which clients may send keepalive pings")
	fs.DurationVar(&f.opts.KeepaliveTime, "keepalive-time", server.DefaultKeepaliveTime, "ping a connection after it was silent this long")
	fs.DurationVar(&f.opts.KeepaliveTimeout, "keepalive-timeout", server.DefaultKeepaliveTimeout, "close a connection whose ping is unanswered this long")
	fs.DurationVar(&f.opts.MaxConnectionAge, "max-connection-age", server.DefaultMaxConnectionAge, "ask clients to reconnect after this long (±10% jitter), so streams rebalance behind L4 load balancers")
	fs.DurationVar(&f.opts.MaxConnectionAgeGrace, "max-connection-age-grace", server.DefaultMaxConnectionAgeGrace, "then cut calls still open after this long")
	fs.IntVar(&f.opts.WatchBuffer, "watch-buffer", findings.DefaultWatchBuffer, "findings (and, separately, story updates) a slow Watch caller may fall behind before it loses the oldest")
}

func serve(ctx context.Context, args []string, stdio Stdio) int {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f.register(fs)
	if code, ok := parseFlags(fs, args, stdio.Err); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stdio.Err, "iamsentry serve: unexpected arguments %q\n", fs.Args())
		return ExitUsage
	}
	f.gcPercentGiven = flagGiven(fs, "gc-percent")
	if err := errors.Join(checkRanges(fs, serveRangeFor), f.src.check()); err != nil {
		fmt.Fprintf(stdio.Err, "iamsentry serve: %v\n", err)
		return ExitUsage
	}
	log, err := newLogger(stdio.Err, f.logFormat, f.logLevel)
	if err != nil {
		fmt.Fprintf(stdio.Err, "iamsentry serve: %v\n", err)
		return ExitUsage
	}
	if err := runServe(ctx, &f, log); err != nil {
		log.Error("serve failed", slog.Any("error", err))
		return ExitError
	}
	return ExitOK
}

func runServe(ctx context.Context, f *serveFlags, log *slog.Logger) error {
	for _, rec := range []struct {
		r    recorder
		path string
	}{{cpuProfile, f.cpuProfile}, {execTrace, f.trace}} {
		stop, err := rec.r.record(rec.path)
		if err != nil {
			return err
		}
		defer func() {
			if err := stop(); err != nil {
				log.Warn(rec.r.what+" not written", slog.Any("error", err))
			}
		}()
	}
	built, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	if f.opts.TLS, f.opts.Auth, err = f.sec.security(log); err != nil {
		return err
	}
	tel, err := telemetry.Setup(ctx, telemetry.Config{ServiceVersion: versionString(), Logger: log})
	if err != nil {
		return err
	}
	tel.Install()
	defer shutdownTelemetry(tel, log)
	setting, source := redisSetting(f.redis, built)
	store, storeDesc, err := openStore(ctx, setting, f.stateBudget, log)
	if err != nil {
		return err
	}
	defer store.Close()
	defer setServeGC(f, setting != "")()
	eng := engine.New(built.Registry, instrumented.Wrap(store, instrumented.Options{
		Backend: backendName(setting), MeterProvider: tel.MeterProvider, TracerProvider: tel.TracerProvider,
	}), engine.Options{
		DedupeHorizon: f.dedupeHorizon, MaxRecordSize: f.maxRecordSize, Logger: log,
		Suppress: built.Suppress, MeterProvider: tel.MeterProvider, TracerProvider: tel.TracerProvider,
	})
	f.opts.Logger = log
	f.opts.MeterProvider, f.opts.TracerProvider = tel.MeterProvider, tel.TracerProvider
	if f.opts.FindingsBus, f.opts.Sinks, err = findingsOut(store, built.Sinks, os.Stdout, log); err != nil {
		return err
	}
	srv := server.New(eng, f.opts)
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	waitSources, err := f.src.start(ctx, srv, tel.MeterProvider, log, func(err error) { stop(&sourceError{err}) })
	if err != nil {
		return err
	}
	defer waitSources()
	lis, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.listen, err)
	}
	stopAdmin, err := startAdmin(f.adminListen, srv.AdminHandler(tel.Metrics), log)
	if err != nil {
		lis.Close()
		return err
	}
	defer stopAdmin()
	log.Info("serving",
		slog.String("address", lis.Addr().String()),
		slog.String("version", versionString()),
		slog.String("state", storeDesc),
		slog.String("state_from", orDefault(source, "default")),
		slog.Any("detectors", enabledIDs(built.Registry)),
		slog.String("config", orDefault(f.config, "(built-in defaults)")),
		slog.Int("suppress_entries", len(built.Suppress)),
		slog.Duration("dedupe_horizon", f.dedupeHorizon),
		slog.Int("max_events_per_request", f.opts.MaxEventsPerRequest),
		slog.Int("max_recv_msg_size", f.opts.MaxRecvMsgSize),
		slog.Int("batch_size", f.opts.BatchSize),
		slog.Int("ingest_max_recv_msg_size", f.opts.IngestMaxRecvMsgSize),
		slog.Duration("max_connection_age", f.opts.MaxConnectionAge),
		slog.String("watch_fan_out", watchFanOut(f.opts.FindingsBus)),
		slog.Int("sinks", len(f.opts.Sinks)),
		slog.String("traces_exporter", tel.Traces),
		slog.String("metrics_exporter", tel.MetricsExport),
	)
	logSecurity(log, f.opts.TLS, f.opts.Auth, &f.sec)
	log.Info("geoip", slog.String("databases", built.geoNote))
	logNotes(log, built.Built)
	var tokens *auth.Tokens
	if f.opts.Auth != nil {
		tokens = f.opts.Auth.Tokens
	}
	stopReload := reloadOnHangup(ctx, f.config, tokens, eng, built, log)
	defer stopReload()
	err = srv.Serve(ctx, lis)
	if se := (*sourceError)(nil); err == nil && errors.As(context.Cause(ctx), &se) {
		err = se.err // a --source could not read its queue
	}
	st := eng.Stats()
	log.Info("stopped", slog.Int64("batches", st.Batches), slog.Int64("records", st.Records),
		slog.Int64("state_round_trips", st.RoundTrips),
		slog.Int64("quiet_batches", st.QuietBatches), slog.Int64("quiet_round_trips", st.QuietRoundTrips))
	return err
}

// backendName names the state backend for telemetry.
func backendName(setting string) string {
	if setting == "" {
		return "memory"
	}
	return "redis"
}

// shutdownTelemetry flushes the exporters at exit.
func shutdownTelemetry(tel *telemetry.Telemetry, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		log.Warn("telemetry not flushed at exit", slog.Any("error", err))
	}
}

// logNotes logs what detectors say about how the configuration makes them
// work (a detector that is off for want of a setting, a fallback).
func logNotes(log *slog.Logger, b *config.Built) {
	for _, n := range b.Notes {
		log.Warn("detector note", slog.String("note", n))
	}
	for _, w := range b.Warnings {
		log.Warn("configuration warning", slog.String("warning", w))
	}
}

// retireDelay is how long a replaced configuration's resources (GeoIP
// databases) stay open after a reload: batches that started under it finish
// in milliseconds, so a minute is ample.
const retireDelay = time.Minute

// reloadOnHangup reloads the configuration file and the token file on
// SIGHUP, each atomically: a file with errors is rejected with every error
// logged, and what runs stays. It returns a function that stops listening
// and closes the configuration in use.
func reloadOnHangup(ctx context.Context, path string, tokens *auth.Tokens, eng *engine.Engine, current *loadedConfig, log *slog.Logger) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-hup:
			}
			if tokens != nil {
				if err := tokens.Reload(); err != nil {
					log.Error("token file reload rejected; the tokens in use stay", slog.Any("errors", errorLines(err)))
				} else {
					log.Info("token file reloaded", slog.Int("tokens", tokens.Len()))
				}
			}
			if path == "" {
				if tokens == nil {
					log.Warn("SIGHUP ignored: serve runs on built-in defaults (no --config file to reload)")
				}
				continue
			}
			built, err := loadConfig(path)
			if err != nil {
				log.Error("config reload rejected; the running configuration stays",
					slog.String("config", path), slog.Any("errors", errorLines(err)))
				continue
			}
			eng.Reload(engine.Rules{Registry: built.Registry, Suppress: built.Suppress})
			old := current
			current = built
			time.AfterFunc(retireDelay, func() { old.Close() })
			log.Info("config reloaded", slog.String("config", path),
				slog.Any("detectors", enabledIDs(built.Registry)), slog.Int("suppress_entries", len(built.Suppress)),
				slog.String("geoip", built.geoNote))
			logNotes(log, built.Built)
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
		<-stopped
		current.Close()
	}
}

// errorLines splits a joined error into its lines, for structured logs.
func errorLines(err error) []string {
	return strings.Split(err.Error(), "\n")
}

func enabledIDs(reg *detectors.Registry) []string {
	var ids []string
	for _, d := range reg.Enabled() {
		ids = append(ids, d.Info().ID)
	}
	return ids
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ServeFlags returns the flags serve accepts, for tools and tests that check
// deployment files against the binary (deploy/).
func ServeFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	new(serveFlags).register(fs)
	return fs
}
