// Package server puts the engine on the wire: the iamsentry.v1
// DetectionService, gRPC health (NOT_SERVING until the state store answers
// and again during shutdown), server reflection for grpcurl, panic recovery,
// request limits, micro-batching across streams, and graceful shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// Options tune a Server. Zero fields take the defaults below.
type Options struct {
	MaxRecvMsgSize      int           // largest request message, bytes; default 16 MiB
	MaxEventsPerRequest int           // events in one request; default 10,000
	BatchSize           int           // records per micro-batch; default 512
	BatchLinger         time.Duration // how long a light-traffic batch waits to fill; default 1 ms
	Workers             int           // concurrent micro-batches; default GOMAXPROCS
	MaxInFlight         int           // requests read ahead per stream; default 64
	GracePeriod         time.Duration // graceful-stop budget; default 15 s
	ReadyInterval       time.Duration // how often readiness is re-checked; default 5 s
	Logger              *slog.Logger  // default: discard
}

// Defaults for Options.
const (
	DefaultMaxRecvMsgSize      = 16 << 20
	DefaultMaxEventsPerRequest = 10_000
	DefaultBatchSize           = 512
	DefaultBatchLinger         = time.Millisecond
	DefaultMaxInFlight         = 64
	DefaultGracePeriod         = 15 * time.Second
	DefaultReadyInterval       = 5 * time.Second
)

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
	if o.BatchLinger < 0 {
		o.BatchLinger = 0
	} else if o.BatchLinger == 0 {
		o.BatchLinger = DefaultBatchLinger
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
}

// errStopping is returned to work submitted while the server stops.
var errStopping = errors.New("server stopping")

// Server is the gRPC server of iamsentry.
type Server struct {
	grpc    *grpc.Server
	health  *health.Server
	eng     *engine.Engine
	batcher *batcher
	opts    Options
}

// New builds a server scoring with eng. It serves nothing until Serve.
func New(eng *engine.Engine, opts Options) *Server {
	opts.setDefaults()
	s := &Server{eng: eng, opts: opts, health: health.NewServer()}
	s.batcher = newBatcher(eng, opts.Workers, opts.BatchSize, opts.BatchLinger)
	s.grpc = grpc.NewServer(
		grpc.MaxRecvMsgSize(opts.MaxRecvMsgSize),
		grpc.ChainUnaryInterceptor(s.recoverUnary),
		grpc.ChainStreamInterceptor(s.recoverStream),
	)
	iamsentryv1.RegisterDetectionServiceServer(s.grpc, &service{eng: eng, batcher: s.batcher, opts: opts, log: opts.Logger})
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

func (s *Server) shutdown() {
	s.health.Shutdown() // every service NOT_SERVING from now on
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
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
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
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
