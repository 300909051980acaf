package server

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Connection defaults, chosen for shippers behind L4 load balancers.
const (
	// DefaultMaxConcurrentStreams bounds the calls one connection runs at
	// once; with the receive limits it bounds what one client can make the
	// server hold.
	DefaultMaxConcurrentStreams = 256
	// DefaultKeepaliveMinTime is below the 30–60 s pings that gRPC clients
	// behind NAT and cloud load balancers are configured with, so they are
	// never answered with GOAWAY "too_many_pings".
	DefaultKeepaliveMinTime = 20 * time.Second
	// DefaultKeepaliveTime is how long a connection may stay silent before
	// the server pings it, so dead peers and idle-killing middleboxes are
	// noticed well before their usual 350 s (AWS NLB) timeout.
	DefaultKeepaliveTime    = time.Minute
	DefaultKeepaliveTimeout = 20 * time.Second
	// DefaultMaxConnectionAge makes a client reconnect (through the load
	// balancer, possibly to another replica) every half hour; gRPC adds
	// ±10 % jitter so replicas' clients do not all reconnect at once.
	DefaultMaxConnectionAge = 30 * time.Minute
	// DefaultMaxConnectionAgeGrace lets calls in flight at that moment
	// finish: a Score stream ends its current requests, a shipper's unary
	// call completes. It is finite so a stream that never ends (Watch, an
	// idle Score stream) cannot pin a connection forever.
	DefaultMaxConnectionAgeGrace = time.Minute
)

func (o *Options) connectionDefaults() {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.KeepaliveMinTime, DefaultKeepaliveMinTime)
	def(&o.KeepaliveTime, DefaultKeepaliveTime)
	def(&o.KeepaliveTimeout, DefaultKeepaliveTimeout)
	def(&o.MaxConnectionAge, DefaultMaxConnectionAge)
	def(&o.MaxConnectionAgeGrace, DefaultMaxConnectionAgeGrace)
}

// connectionOptions are the transport settings: the receive limit,
// keepalive, connection age and concurrent streams.
//
// The transport's receive limit is the larger of the two limits, because
// gRPC has one per server; the iamsentry.v1 limit is then enforced per
// message by limitUnary and limitStream. A Score stream reads up to
// MaxInFlight requests ahead, so its limit stays lower than the one for the
// shippers' unary batches (OTLP, Vector), which hold one message per call.
func (s *Server) connectionOptions() []grpc.ServerOption {
	o := s.opts
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(max(o.MaxRecvMsgSize, o.IngestMaxRecvMsgSize)),
		grpc.MaxConcurrentStreams(uint32(o.MaxConcurrentStreams)),
		grpc.StaticStreamWindowSize(flowWindow),
		grpc.StaticConnWindowSize(flowWindow),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             o.KeepaliveMinTime,
			PermitWithoutStream: true, // shippers ping idle connections between batches
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:                  o.KeepaliveTime,
			Timeout:               o.KeepaliveTimeout,
			MaxConnectionAge:      o.MaxConnectionAge,
			MaxConnectionAgeGrace: o.MaxConnectionAgeGrace,
		}),
	}
}

// apiPrefix starts the full method names that take the iamsentry.v1 limit.
const apiPrefix = "/iamsentry.v1."

func (s *Server) limitUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := s.refusal(req); err != nil {
		return nil, err
	}
	if strings.HasPrefix(info.FullMethod, apiPrefix) {
		if err := s.checkSize(req); err != nil {
			return nil, err
		}
	}
	return h(ctx, req)
}

func (s *Server) limitStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, &limitedStream{ServerStream: ss, s: s, api: strings.HasPrefix(info.FullMethod, apiPrefix)})
}

// checkSize rejects an iamsentry.v1 message over MaxRecvMsgSize, as the
// transport would have had it been the only limit.
func (s *Server) checkSize(m any) error {
	if pm, ok := m.(proto.Message); ok {
		if n := proto.Size(pm); n > s.opts.MaxRecvMsgSize {
			return s.sizeError(n)
		}
	}
	return nil
}

func (s *Server) sizeError(n int) error {
	return status.Errorf(codes.ResourceExhausted,
		"received message larger than max (%d vs. %d bytes) for the iamsentry.v1 API; split it, or raise the server's --max-recv-msg-size", n, s.opts.MaxRecvMsgSize)
}

// eventsError is the status of an iamsentry.v1 request of n events, if
// that is over limit.
func eventsError(n, limit int) error {
	if n > limit {
		return status.Errorf(codes.InvalidArgument,
			"request carries %d events; the limit is %d events per request (split it, or raise the server's --max-events-per-request)",
			n, limit)
	}
	return nil
}

// limitedStream answers a request limitCodec refused with its status, and
// holds iamsentry.v1 requests (api) to MaxRecvMsgSize.
type limitedStream struct {
	grpc.ServerStream
	s   *Server
	api bool
}

func (l *limitedStream) RecvMsg(m any) error {
	if err := l.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := l.s.refusal(m); err != nil {
		return err
	}
	if _, checked := m.(*receivedRequest); !l.api || checked {
		return nil // limitCodec checked a Score request's size on the wire
	}
	return l.s.checkSize(m)
}

// flowWindow is the HTTP/2 flow-control window of every stream and
// connection: the ceiling grpc-go's dynamic (BDP) window grows to, fixed
// from the start. The dynamic window estimates the bandwidth-delay product
// with a PING after each burst of DATA it receives; at a few requests per
// stream per millisecond (shippers sending small batches, loadgen's open
// loop) that is one PING and one PING ack per request, a write and a read
// system call each, for a window that on the loopback and LAN reaches its
// ceiling anyway. Memory stays bounded as before: the connection window
// caps what one connection's streams hold unread, and the read-ahead
// budget (ReadAheadBytes) what the service takes from them.
const flowWindow = 16 << 20
