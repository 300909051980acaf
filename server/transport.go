package server

import (
	"context"
	"log/slog"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/iamsentry/iamsentry/server/auth"
)

// Stream caps for the whole process (connection.go caps each connection).
const (
	// DefaultMaxStreams bounds the calls the process runs at once, over all
	// connections: with the per-connection cap alone, more connections
	// mean more streams without end.
	DefaultMaxStreams = 4096
	// DefaultMaxOpenStreams bounds the health-check and reflection calls
	// the process runs at once. They may come without credentials, so a
	// stranger could otherwise hold thousands of Health.Watch streams.
	DefaultMaxOpenStreams = 256
)

// streamCounts are the calls running now, against Options.MaxStreams and
// Options.MaxOpenStreams.
type streamCounts struct {
	all, open atomic.Int64
}

// admit is the server's tap handle: it runs in the transport as a call's
// headers arrive, before a byte of its request is read or decompressed. A
// call that does not authenticate, or that would go over a stream cap, is
// refused there, so an anonymous caller cannot make the server decode (and
// hold) anything. The context it returns, carrying the tenant, is the
// call's.
//
// It runs under the connection's lock, so it does no I/O beyond a log line
// for a refusal.
func (s *Server) admit(ctx context.Context, info *tap.Info) (context.Context, error) {
	actx, err := s.authenticate(ctx, info.FullMethodName)
	if err != nil {
		return nil, err
	}
	// Counted only once admitted: gRPC ends the context of a call it
	// starts, not of one the tap refused.
	if err := s.streams.take(actx, auth.Open(info.FullMethodName), s.opts.MaxStreams, s.opts.MaxOpenStreams); err != nil {
		s.opts.Logger.WarnContext(actx, "call refused", slog.String("reason", status.Convert(err).Message()))
		return nil, err
	}
	return context.WithValue(actx, admittedKey{}, true), nil
}

// take counts a call in, or refuses it when a cap is reached. The call
// is counted out when its context ends, which gRPC does when the call is
// over (or was never started).
func (c *streamCounts) take(ctx context.Context, open bool, maxAll, maxOpen int) error {
	if c.all.Add(1) > int64(maxAll) {
		c.all.Add(-1)
		return status.Errorf(codes.ResourceExhausted, "server is running its most concurrent calls (%d); retry with backoff", maxAll)
	}
	if open && c.open.Add(1) > int64(maxOpen) {
		c.open.Add(-1)
		c.all.Add(-1)
		return status.Errorf(codes.ResourceExhausted, "server is running its most concurrent health and reflection calls (%d); retry with backoff", maxOpen)
	}
	context.AfterFunc(ctx, func() {
		if open {
			c.open.Add(-1)
		}
		c.all.Add(-1)
	})
	return nil
}

// admittedKey marks the context of a call admit let in.
type admittedKey struct{}

func admitted(ctx context.Context) bool { v, _ := ctx.Value(admittedKey{}).(bool); return v }
