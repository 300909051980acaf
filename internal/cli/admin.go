package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// startAdmin serves handler on addr (the admin listener: /metrics,
// /healthz, /readyz) until the returned stop is called. An empty addr
// disables it.
func startAdmin(addr string, handler http.Handler, log *slog.Logger) (stop func(), err error) {
	if addr == "" {
		log.Info("admin listener disabled (--admin-listen is empty): no /metrics, /healthz, /readyz")
		return func() {}, nil
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listen on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener failed", slog.Any("error", err))
		}
	}()
	log.Info("admin listener serving /metrics, /healthz, /readyz", slog.String("address", lis.Addr().String()))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
