package server

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/iamsentry/iamsentry/server/auth"
)

// authUnary authenticates a unary call and names its tenant in ctx (see
// package auth), with the call's log attributes.
func (s *Server) authUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := s.authenticate(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	resp, err := h(ctx, req)
	s.logCall(ctx, start, err)
	return resp, err
}

func (s *Server) authStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := s.authenticate(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	start := time.Now()
	err = h(srv, &ctxStream{ServerStream: ss, ctx: ctx})
	s.logCall(ctx, start, err)
	return err
}

// ctxStream is a server stream with the context authentication made.
type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (c *ctxStream) Context() context.Context { return c.ctx }

func (s *Server) authenticate(ctx context.Context, method string) (context.Context, error) {
	addr := "unknown"
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		addr = p.Addr.String()
	}
	ctx = withLogAttrs(ctx, slog.String("method", method), slog.String("peer", addr))
	actx, err := s.opts.Auth.Authenticate(ctx, method)
	if err != nil {
		s.opts.Logger.WarnContext(ctx, "call refused", slog.String("reason", status.Convert(err).Message()))
		return nil, err
	}
	return withLogAttrs(actx, slog.String("tenant", auth.Tenant(actx))), nil
}

// logCall logs the end of a call at debug level.
func (s *Server) logCall(ctx context.Context, start time.Time, err error) {
	s.opts.Logger.DebugContext(ctx, "call ended",
		slog.String("code", status.Code(err).String()), slog.Duration("duration", time.Since(start)))
}

type logAttrsKey struct{}

// withLogAttrs returns ctx carrying attrs, added to every record logged
// with it through a logger of the server.
func withLogAttrs(ctx context.Context, attrs ...slog.Attr) context.Context {
	prev, _ := ctx.Value(logAttrsKey{}).([]slog.Attr)
	return context.WithValue(ctx, logAttrsKey{}, append(prev[:len(prev):len(prev)], attrs...))
}

// contextHandler adds the request-scoped attributes of the record's
// context (method, peer, tenant) to every record.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if attrs, ok := ctx.Value(logAttrsKey{}).([]slog.Attr); ok {
		r.AddAttrs(attrs...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}
