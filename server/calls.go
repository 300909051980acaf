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
	ctx, err := s.authenticated(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	resp, err := h(ctx, req)
	s.logCall(ctx, start, err)
	return resp, err
}

func (s *Server) authStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := s.authenticated(ss.Context(), info.FullMethod)
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

// authenticated returns the context of an authenticated call: the one
// admit made in the transport, or (should a call ever reach a handler
// without passing it) one authenticated now.
func (s *Server) authenticated(ctx context.Context, method string) (context.Context, error) {
	if admitted(ctx) {
		return ctx, nil
	}
	return s.authenticate(ctx, method)
}

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
	prev := requestAttrs(ctx)
	return context.WithValue(ctx, logAttrsKey{}, append(prev[:len(prev):len(prev)], attrs...))
}

// requestAttrs returns the attributes withLogAttrs put in ctx.
func requestAttrs(ctx context.Context) []slog.Attr {
	attrs, _ := ctx.Value(logAttrsKey{}).([]slog.Attr)
	return attrs
}

// contextHandler adds the request-scoped attributes of the record's
// context (method, peer, tenant) to every record, at its top level. Once a
// group is open it becomes a groupedHandler.
type contextHandler struct{ slog.Handler }

var (
	_ slog.Handler = contextHandler{}
	_ slog.Handler = groupedHandler{}
)

// Handle adds the request's attributes to r: no group is open, so they
// land beside r's own, at the top level.
func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if attrs := requestAttrs(ctx); len(attrs) > 0 {
		r.AddAttrs(attrs...)
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h contextHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return groupedHandler{Handler: h.Handler, top: h.Handler}.with(handlerStep{group: name})
}

// groupedHandler is a contextHandler with groups open. A record's own
// attributes go into the innermost group, so the request's cannot ride on
// the record: they go to the handler beneath the first group (top), and
// the groups and attributes since are opened again above them.
type groupedHandler struct {
	slog.Handler               // top with steps applied
	top          slog.Handler  // the handler beneath the first group
	steps        []handlerStep // WithGroup and WithAttrs calls since, in order
}

// handlerStep is one WithGroup (group set) or WithAttrs call.
type handlerStep struct {
	group string
	attrs []slog.Attr
}

func (s handlerStep) apply(h slog.Handler) slog.Handler {
	if s.group != "" {
		return h.WithGroup(s.group)
	}
	return h.WithAttrs(s.attrs)
}

// with returns h after one more step.
func (h groupedHandler) with(s handlerStep) groupedHandler {
	return groupedHandler{Handler: s.apply(h.Handler), top: h.top, steps: append(h.steps[:len(h.steps):len(h.steps)], s)}
}

// Handle implements slog.Handler. Rebuilding the groups costs a handler per
// record, and only records with request attributes under a group pay it.
func (h groupedHandler) Handle(ctx context.Context, r slog.Record) error {
	attrs := requestAttrs(ctx)
	if len(attrs) == 0 {
		return h.Handler.Handle(ctx, r)
	}
	inner := h.top.WithAttrs(attrs)
	for _, s := range h.steps {
		inner = s.apply(inner)
	}
	return inner.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h groupedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.with(handlerStep{attrs: attrs})
}

// WithGroup implements slog.Handler.
func (h groupedHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(handlerStep{group: name})
}
