package findings

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"go.opentelemetry.io/otel/metric"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// SinkSpec describes a sink to open, as the configuration file's sinks
// entries do.
type SinkSpec struct {
	Name              string // for logs and metrics, e.g. "sinks[1] (webhook)"
	Type              string // "stdout", "file" or "webhook"
	Format            string // "json" or "ocsf"
	Path              string // file
	URL               string // webhook
	Headers           map[string]string
	Timeout           time.Duration
	QueueSize         int
	MaxAttempts       int
	MinSeverity       int // iamsentry severities: 1 INFO … 5 CRITICAL; 0 keeps all
	Detectors         []string
	IncludeSuppressed bool
}

// OpenSinks opens every sink of specs, writing stdout sinks to stdout. On
// error the sinks already opened are closed.
func OpenSinks(specs []SinkSpec, stdout io.Writer, log *slog.Logger, mp metric.MeterProvider) ([]Sink, error) {
	var out []Sink
	for _, sp := range specs {
		s, err := openSink(sp, stdout, log, mp)
		if err != nil {
			for _, o := range out {
				_ = o.Close(context.Background())
			}
			return nil, fmt.Errorf("%s: %w", sp.Name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func openSink(sp SinkSpec, stdout io.Writer, log *slog.Logger, mp metric.MeterProvider) (Sink, error) {
	format, err := FormatFor(sp.Format)
	if err != nil {
		return nil, err
	}
	filter := Filter{MinSeverity: iamsentryv1.Severity(sp.MinSeverity), Detectors: sp.Detectors, IncludeSuppressed: sp.IncludeSuppressed}
	switch sp.Type {
	case "stdout":
		return NewWriterSink(stdout, WriterConfig{Name: sp.Name, Format: format, Filter: filter, MeterProvider: mp}), nil
	case "file":
		f, err := os.OpenFile(sp.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, err
		}
		return NewWriterSink(f, WriterConfig{Name: sp.Name, Format: format, Filter: filter, Close: f.Close, MeterProvider: mp}), nil
	case "webhook":
		return NewWebhookSink(WebhookConfig{Name: sp.Name, URL: sp.URL, Headers: sp.Headers, Format: format, Filter: filter,
			Timeout: sp.Timeout, QueueSize: sp.QueueSize, MaxAttempts: sp.MaxAttempts, Logger: log, MeterProvider: mp}), nil
	}
	return nil, errors.New("unknown sink type " + sp.Type)
}
