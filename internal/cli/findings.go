package cli

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/iamsentry/iamsentry/config"
	"github.com/iamsentry/iamsentry/server/findings"
	"github.com/iamsentry/iamsentry/state"
	redisstate "github.com/iamsentry/iamsentry/state/redis"
)

// findingsOut picks how findings leave serve: the Watch fan-out through
// Redis when the state store is Redis (every replica's watchers see every
// replica's findings), in-process otherwise; and the configured sinks.
func findingsOut(store state.Store, sinks []config.SinkSetting, stdout io.Writer, log *slog.Logger) (findings.Bus, []findings.Sink, error) {
	var bus findings.Bus
	if rs, ok := store.(*redisstate.Store); ok {
		prefix := rs.Options().Prefix
		if prefix == "" {
			prefix = redisstate.DefaultPrefix
		}
		bus = findings.NewRedisBus(rs.Client(), prefix, log)
	}
	specs := make([]findings.SinkSpec, len(sinks))
	for i, s := range sinks {
		specs[i] = findings.SinkSpec{
			Name: fmt.Sprintf("sinks[%d] (%s)", s.Entry, s.Type), Type: s.Type, Format: s.Format,
			Path: s.Path, URL: s.URL, Headers: s.Headers, Timeout: s.Timeout, QueueSize: s.QueueSize,
			MaxAttempts: s.MaxAttempts, MinSeverity: int(s.MinSeverity), Detectors: s.Detectors,
			IncludeSuppressed: s.IncludeSuppressed,
		}
	}
	out, err := findings.OpenSinks(specs, stdout, log, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("opening findings sink %w", err)
	}
	return bus, out, nil
}

// watchFanOut names the Watch fan-out for the start-up log.
func watchFanOut(bus findings.Bus) string {
	if bus == nil {
		return "in-process (this replica's findings only)"
	}
	return "redis pub/sub (every replica sharing the store)"
}
