// Package server puts the engine on the wire: the iamsentry.v1
// DetectionService, gRPC health (NOT_SERVING until the state store answers
// and again during shutdown), server reflection for grpcurl, panic recovery,
// request limits, micro-batching across streams, and graceful shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	collectorlogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // shippers compress: OTLP exporters, Vector, the client library
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	vectorpb "github.com/iamsentry/iamsentry/gen/vector"
	"github.com/iamsentry/iamsentry/server/auth"
	"github.com/iamsentry/iamsentry/server/findings"
)

// Options tune a Server. Zero fields take the defaults below.
type Options struct {
	MaxRecvMsgSize        int           // largest iamsentry.v1 request message, bytes; default 16 MiB
	MaxEventsPerRequest   int           // events in one iamsentry.v1 request; default 10,000
	IngestMaxRecvMsgSize  int           // largest OTLP or Vector request message, bytes; default 64 MiB
	MaxIngestRecords      int           // records in one OTLP or Vector request; default 100,000
	MaxDecompressionRatio int           // gzip requests: most bytes out per byte in; default 256
	BatchSize             int           // records per micro-batch; default 512
	BatchLinger           time.Duration // how long a batch waits for more work after its first job; default none
	BatchBusyLinger       time.Duration // without BatchLinger: how long a small batch waits for a batch in flight to finish, taking what arrives; default 2 ms, negative: never
	Workers               int           // concurrent micro-batches; default GOMAXPROCS
	MaxInFlight           int           // requests read ahead per stream; default 64
	ReadAheadBytes        int           // bytes of requests read ahead per stream; default 16 MiB
	ReadAheadTotal        int           // bytes of requests read ahead by all streams; default 256 MiB
	GracePeriod           time.Duration // graceful-stop budget; default 15 s
	ReadyInterval         time.Duration // how often readiness is re-checked; default 1 s
	Logger                *slog.Logger  // default: discard

	// Connection management (see connection.go).
	MaxConcurrentStreams  int           // concurrent calls per connection; default 256
	MaxStreams            int           // concurrent calls in the process; default 4096
	MaxOpenStreams        int           // of which health checks and reflection; default 256
	KeepaliveMinTime      time.Duration // clients may ping this often, no more; default 20 s
	KeepaliveTime         time.Duration // the server pings a connection idle this long; default 1 min
	KeepaliveTimeout      time.Duration // and closes it when the ping is unanswered this long; default 20 s
	MaxConnectionAge      time.Duration // connections are asked to go away after this (±10 % jitter); default 30 min
	MaxConnectionAgeGrace time.Duration // then calls still open get this long before they are cut; default 1 min

	// Findings out (see watch.go and package findings).
	FindingsBus   findings.Bus         // fan-out to every replica's watchers; nil: in-process (one replica)
	Sinks         []findings.Sink      // where findings leave the service; closed at shutdown
	WatchBuffer   int                  // findings a slow watcher may fall behind; default 1024
	MeterProvider metric.MeterProvider // default: the global provider
	StatsHandler  stats.Handler        // optional extra gRPC stats handler (tests)

	// TracerProvider receives the spans of calls (otelgrpc) and of batch
	// scoring. Default: the global provider.
	TracerProvider trace.TracerProvider

	// MetricsTenantLabel adds the tenant to iamsentry.records.received.
	// Off by default: /metrics is unauthenticated and tenant names say who
	// the service's customers are (see docs/operate.md).
	MetricsTenantLabel bool

	// Security (see package auth).
	TLS  *tls.Config         // server TLS; nil: plaintext
	Auth *auth.Authenticator // nil: authentication off, every call the default tenant ""
}

// Defaults for Options.
const (
	DefaultMaxRecvMsgSize       = 16 << 20
	DefaultMaxEventsPerRequest  = 10_000
	DefaultIngestMaxRecvMsgSize = 64 << 20
	DefaultBatchSize            = 512
	DefaultMaxInFlight          = 64
	DefaultGracePeriod          = 15 * time.Second
	DefaultReadyInterval        = time.Second
)

// DefaultBatchLinger is no linger: a batch takes the work already waiting
// and goes. A timer linger added its whole length to nearly every verdict at
// light and moderate traffic (batches there rarely fill BatchSize, so the
// timer always ran out), while under load batches grow by queueing anyway
// (docs/performance.md, "Latency at a fixed rate").
const DefaultBatchLinger time.Duration = 0

// DefaultBatchBusyLinger caps how long a small batch waits, taking the
// work that arrives, for another batch in flight to finish (Nagle's rule:
// see batcher). It is paid only when batches overlap, and then bounds
// what waiting may add to a verdict while the previous batch is slow.
const DefaultBatchBusyLinger = 2 * time.Millisecond

// ReadyTimeout bounds one readiness probe of the state store. With
// DefaultReadyInterval it bounds how late health follows a store loss:
// under 2 s.
const ReadyTimeout = time.Second

func (o *Options) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxRecvMsgSize, DefaultMaxRecvMsgSize)
	def(&o.MaxEventsPerRequest, DefaultMaxEventsPerRequest)
	def(&o.BatchSize, DefaultBatchSize)
	def(&o.Workers, runtime.GOMAXPROCS(0))
	def(&o.MaxInFlight, DefaultMaxInFlight)
	def(&o.ReadAheadBytes, DefaultReadAheadBytes)
	def(&o.ReadAheadTotal, DefaultReadAheadTotal)
	def(&o.IngestMaxRecvMsgSize, DefaultIngestMaxRecvMsgSize)
	def(&o.MaxIngestRecords, DefaultMaxIngestRecords)
	def(&o.MaxDecompressionRatio, DefaultMaxDecompressionRatio)
	def(&o.MaxConcurrentStreams, DefaultMaxConcurrentStreams)
	def(&o.MaxStreams, DefaultMaxStreams)
	def(&o.MaxOpenStreams, DefaultMaxOpenStreams)
	def(&o.WatchBuffer, findings.DefaultWatchBuffer)
	o.connectionDefaults()
	if o.BatchLinger < 0 {
		o.BatchLinger = 0
	} else if o.BatchLinger == 0 {
		o.BatchLinger = DefaultBatchLinger
	}
	if o.BatchBusyLinger < 0 {
		o.BatchBusyLinger = 0
	} else if o.BatchBusyLinger == 0 {
		o.BatchBusyLinger = DefaultBatchBusyLinger
	}
	if o.GracePeriod <= 0 {
		o.GracePeriod = DefaultGracePeriod
	}
	if o.ReadyInterval <= 0 {
		o.ReadyInterval = DefaultReadyInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Logger = slog.New(contextHandler{o.Logger.Handler()})
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
}

// errStopping is returned to work submitted while the server stops.
var errStopping = errors.New("server stopping")

// Server is the gRPC server of iamsentry.
type Server struct {
	grpc     *grpc.Server
	health   *health.Server
	eng      *engine.Engine
	batcher  *batcher
	out      *findings.Dispatcher
	stopping chan struct{} // closed when shutdown starts: Watch calls end
	opts     Options
	metrics  serverMetrics
	streams  streamCounts
	refused  sync.Map // request message → the status limitCodec refused it with
}

// New builds a server scoring with eng. It serves nothing until Serve.
func New(eng *engine.Engine, opts Options) *Server {
	opts.setDefaults()
	s := &Server{eng: eng, opts: opts, health: health.NewServer(), stopping: make(chan struct{}),
		metrics: newServerMetrics(opts.MeterProvider, opts.MetricsTenantLabel)}
	s.out = findings.NewDispatcher(findings.DispatcherConfig{
		Hub: findings.NewHub(), Bus: opts.FindingsBus, Sinks: opts.Sinks,
		Logger: opts.Logger, MeterProvider: opts.MeterProvider,
	})
	s.batcher = newBatcher(eng, opts.Workers, opts.BatchSize, opts.BatchLinger, opts.BatchBusyLinger)
	s.batcher.scored = s.publishFindings
	gopts := append(s.connectionOptions(),
		grpc.InTapHandle(s.admit),
		grpc.ForceServerCodecV2(newLimitCodec(s)),
		//lint:ignore SA1019 the server's own decompressor; a registered one would be the clients' too
		grpc.RPCDecompressor(&gzipLimited{max: max(opts.MaxRecvMsgSize, opts.IngestMaxRecvMsgSize), ratio: opts.MaxDecompressionRatio}),
		grpc.ChainUnaryInterceptor(s.recoverUnary, s.authUnary, s.limitUnary),
		grpc.ChainStreamInterceptor(s.recoverStream, s.authStream, s.limitStream),
		grpc.StatsHandler(opts.statsHandler()),
	)
	if opts.TLS != nil {
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(opts.TLS)))
	}
	if opts.StatsHandler != nil {
		gopts = append(gopts, grpc.StatsHandler(opts.StatsHandler))
	}
	s.grpc = grpc.NewServer(gopts...)
	svc := &service{readAhead: newByteBudget(opts.ReadAheadTotal), eng: eng, batcher: s.batcher, opts: opts, log: opts.Logger, hub: s.out.Hub(), stopping: s.stopping, metrics: s.metrics}
	iamsentryv1.RegisterDetectionServiceServer(s.grpc, svc)
	collectorlogspb.RegisterLogsServiceServer(s.grpc, &otlpService{ingest: s.ingest()})
	vectorpb.RegisterVectorServer(s.grpc, &vectorService{ingest: s.ingest(), health: s.health})
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	s.setServing(false)
	return s
}

// ServiceName is the health-check name of the detection service.
const ServiceName = "iamsentry.v1.DetectionService"

func (s *Server) setServing(ok bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ok {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus("", st)
	s.health.SetServingStatus(ServiceName, st)
}

// Serve serves on lis until ctx is done, then shuts down gracefully: health
// turns NOT_SERVING first so balancers drain the replica, in-flight calls get
// GracePeriod to finish, and whatever is left is cut. It returns nil after a
// shutdown caused by ctx.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	errc := make(chan error, 1)
	outCtx, stopOut := context.WithCancel(context.WithoutCancel(ctx))
	defer stopOut()
	go s.out.Run(outCtx)
	defer s.closeFindings()
	go func() { errc <- s.grpc.Serve(lis) }()
	readyCtx, stopReady := context.WithCancel(ctx)
	defer stopReady()
	go s.watchReadiness(readyCtx)
	select {
	case err := <-errc:
		s.batcher.stop()
		return fmt.Errorf("grpc serve: %w", err)
	case <-ctx.Done():
	}
	stopReady()
	s.shutdown()
	return nil
}

// shutdown stops in this order: health NOT_SERVING (balancers drain the
// replica); GOAWAY on every connection (GracefulStop: no new calls, the
// clients' next calls go to a new connection); then the long-lived calls
// are told to leave (Watch ends, a Score stream answers the requests it
// has read and ends with UNAVAILABLE, which clients retry elsewhere); the
// grace period cuts whatever is still open.
func (s *Server) shutdown() {
	s.health.Shutdown() // every service NOT_SERVING from now on
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	close(s.stopping)
	timer := time.NewTimer(s.opts.GracePeriod)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		s.opts.Logger.Warn("grace period over; cutting remaining calls", slog.Duration("grace", s.opts.GracePeriod))
		s.grpc.Stop()
		<-stopped
	}
	s.batcher.stop()
}

// watchReadiness keeps health in step with the state store: SERVING while
// it answers, NOT_SERVING while it does not.
func (s *Server) watchReadiness(ctx context.Context) {
	ticker := time.NewTicker(s.opts.ReadyInterval)
	defer ticker.Stop()
	ready := false
	for {
		pctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
		err := s.eng.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if now := err == nil; now != ready {
			ready = now
			s.setServing(ready)
			s.opts.Logger.Info("readiness changed", slog.Bool("serving", ready), slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (s *Server) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer s.recovered(info.FullMethod, &err)
	return h(ctx, req)
}

func (s *Server) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer s.recovered(info.FullMethod, &err)
	return h(srv, ss)
}

// recovered turns a panic in a handler into INTERNAL for that call, so one
// bad call never takes the process down.
func (s *Server) recovered(method string, err *error) {
	if p := recover(); p != nil {
		s.opts.Logger.Error("panic in handler", slog.String("method", method),
			slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
		*err = status.Error(codes.Internal, "internal error")
	}
}

// closeFindings dispatches the findings still queued and lets the sinks
// flush, within the grace period.
func (s *Server) closeFindings() {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.GracePeriod)
	defer cancel()
	if err := s.out.Close(ctx); err != nil {
		s.opts.Logger.Warn("findings not all delivered at shutdown", slog.Any("error", err))
	}
}
