package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/server"
)

// TestReadinessFollowsRedisLoss: /readyz turns 503 within 2 s of losing
// Redis, so a balancer stops sending work the replica can only refuse.
// The bound is asserted on the probe's configuration (a probe every
// ReadyInterval, each given ReadyTimeout), not on a stopwatch that a
// loaded machine would break; a real redis-server is then killed and
// /readyz must turn 503 (polled within a generous bound).
func TestReadinessFollowsRedisLoss(t *testing.T) {
	if worst := server.DefaultReadyInterval + server.ReadyTimeout; worst > 2*time.Second {
		t.Errorf("rule: readiness follows a store loss within 2 s; a probe every %v that may take %v lags up to %v",
			server.DefaultReadyInterval, server.ReadyTimeout, worst)
	}
	rs := redistest.StartServer(t)
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	// Default ReadyInterval: the configuration the rule is about.
	srv := server.New(engine.New(reg, rstore.Open(t, rs.URL(), rstore.Prefix()), engine.Options{}), server.Options{})
	_, stop := serveListening(t, srv)
	defer stop()
	admin := httptest.NewServer(srv.AdminHandler(nil))
	defer admin.Close()
	readyz := func() int {
		resp, err := http.Get(admin.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, "/readyz 200 with Redis up", func() bool { return readyz() == http.StatusOK })
	rs.Kill()
	lost := time.Now()
	waitFor(t, "/readyz 503 after Redis is killed", func() bool { return readyz() == http.StatusServiceUnavailable })
	t.Logf("/readyz turned 503 %v after Redis was killed", time.Since(lost).Round(10*time.Millisecond))
}
