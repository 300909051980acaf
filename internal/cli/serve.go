package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/state/memory"
)

type serveFlags struct {
	listen, config, logFormat string
	logLevel                  slog.Level
	dedupeHorizon             time.Duration
	maxRecordSize             int
	opts                      server.Options
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.listen, "listen", ":50051", "gRPC listen address `host:port`")
	fs.StringVar(&f.config, "config", "", "configuration `file` (YAML); default: built-in defaults")
	fs.StringVar(&f.logFormat, "log-format", "auto", "log format: auto (text on a terminal, else json), json or text")
	fs.TextVar(&f.logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	fs.DurationVar(&f.dedupeHorizon, "dedupe-horizon", engine.DefaultDedupeHorizon, "how long an event id and its verdict are remembered for retries")
	fs.IntVar(&f.maxRecordSize, "max-record-size", 256<<10, "largest CloudTrail record accepted, `bytes`")
	fs.IntVar(&f.opts.MaxRecvMsgSize, "max-recv-msg-size", server.DefaultMaxRecvMsgSize, "largest gRPC request message, `bytes`")
	fs.IntVar(&f.opts.MaxEventsPerRequest, "max-events-per-request", server.DefaultMaxEventsPerRequest, "most events in one request")
	fs.IntVar(&f.opts.BatchSize, "batch-size", server.DefaultBatchSize, "most records in one micro-batch")
	fs.DurationVar(&f.opts.BatchLinger, "batch-linger", server.DefaultBatchLinger, "how long a micro-batch waits to fill under light traffic")
	fs.DurationVar(&f.opts.GracePeriod, "grace-period", server.DefaultGracePeriod, "how long shutdown waits for in-flight calls")
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
	reg, err := loadRegistry(f.config)
	if err != nil {
		return err
	}
	store := memory.New()
	defer store.Close()
	eng := engine.New(reg, store, engine.Options{
		DedupeHorizon: f.dedupeHorizon, MaxRecordSize: f.maxRecordSize, Logger: log,
	})
	f.opts.Logger = log
	srv := server.New(eng, f.opts)
	lis, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.listen, err)
	}
	log.Info("serving",
		slog.String("address", lis.Addr().String()),
		slog.String("version", versionString()),
		slog.String("state", "memory (embedded; single replica only: replicas would not share state)"),
		slog.Any("detectors", enabledIDs(reg)),
		slog.String("config", orDefault(f.config, "(built-in defaults)")),
		slog.Duration("dedupe_horizon", f.dedupeHorizon),
		slog.Int("max_events_per_request", f.opts.MaxEventsPerRequest),
		slog.Int("max_recv_msg_size", f.opts.MaxRecvMsgSize),
		slog.Int("batch_size", f.opts.BatchSize),
	)
	err = srv.Serve(ctx, lis)
	log.Info("stopped")
	return err
}

// loadRegistry returns the built-in detectors as the config file (if any)
// switches them.
func loadRegistry(path string) (*detectors.Registry, error) {
	reg, err := detectors.NewRegistry(detectors.Defaults()...)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return reg, nil
	}
	cfg, err := config.Load(path, reg)
	if err != nil {
		return nil, err
	}
	return cfg.Apply(reg)
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
