package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/iamsentry/iamsentry/config"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server/findings"
	"github.com/iamsentry/iamsentry/state"
	redisstate "github.com/iamsentry/iamsentry/state/redis"
)

// findingsOut picks how findings leave serve: the Watch fan-out through
// Redis when the state store is Redis (every replica's watchers see every
// replica's findings), in-process otherwise; and the configured sinks.
func findingsOut(store state.Store, sinks []config.Sink, stdout io.Writer, log *slog.Logger) (findings.Bus, []findings.Sink, error) {
	var bus findings.Bus
	if rs, ok := store.(*redisstate.Store); ok {
		prefix := rs.Options().Prefix
		if prefix == "" {
			prefix = redisstate.DefaultPrefix
		}
		bus = findings.NewRedisBus(rs.Client(), prefix, log)
	}
	out, err := openSinks(sinks, stdout, log)
	if err != nil {
		return nil, nil, err
	}
	return bus, out, nil
}

// openSinks opens every sink of the configuration's sinks list, writing
// stdout sinks to stdout. On error the sinks already opened are closed.
func openSinks(sinks []config.Sink, stdout io.Writer, log *slog.Logger) ([]findings.Sink, error) {
	var out []findings.Sink
	for i, s := range sinks {
		name := fmt.Sprintf("sinks[%d] (%s)", i, s.Type)
		sink, err := openSink(name, s, stdout, log)
		if err != nil {
			for _, o := range out {
				_ = o.Close(context.Background())
			}
			return nil, fmt.Errorf("opening findings sink %s: %w", name, err)
		}
		out = append(out, sink)
	}
	return out, nil
}

// openSink opens one checked sinks entry; name labels its logs and metrics.
func openSink(name string, s config.Sink, stdout io.Writer, log *slog.Logger) (findings.Sink, error) {
	format, err := findings.FormatFor(s.Format)
	if err != nil {
		return nil, err
	}
	filter := findings.Filter{MinSeverity: iamsentryv1.Severity(s.MinSeverity), Detectors: s.Detectors, IncludeSuppressed: s.IncludeSuppressed}
	switch s.Type {
	case config.SinkStdout:
		return findings.NewWriterSink(stdout, findings.WriterConfig{Name: name, Format: format, Filter: filter}), nil
	case config.SinkFile:
		f, err := findings.OpenFileSink(s.Path, findings.WriterConfig{Name: name, Format: format, Filter: filter})
		if err != nil {
			return nil, err
		}
		return f, nil
	case config.SinkWebhook:
		return findings.NewWebhookSink(findings.WebhookConfig{Name: name, URL: s.URL, Headers: s.Headers, Format: format, Filter: filter,
			Timeout: s.Timeout, QueueSize: s.QueueSize, MaxAttempts: s.MaxAttempts, Logger: log}), nil
	}
	return nil, fmt.Errorf("unknown sink type %q", s.Type)
}

// watchFanOut names the Watch fan-out for the start-up log.
func watchFanOut(bus findings.Bus) string {
	if bus == nil {
		return "in-process (this replica's findings only)"
	}
	return "redis pub/sub (every replica sharing the store)"
}
