package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
)

// Sink is one entry of the sinks list: where findings leave the service
// (serve only; scan writes its own output). It is the one description of a
// sink, from the file to the running sink: Build checks it, and the program
// that assembles the process opens it as it is.
type Sink struct {
	Type              string             `yaml:"type"`               // SinkStdout, SinkFile or SinkWebhook
	Format            string             `yaml:"format"`             // json ("", the default) or ocsf
	Path              string             `yaml:"path"`               // file: where to append JSON lines
	URL               string             `yaml:"url"`                // webhook: http(s) URL to POST to
	Headers           map[string]string  `yaml:"headers"`            // webhook: added to each request
	Timeout           time.Duration      `yaml:"timeout"`            // webhook: per attempt; 0: the default (10s)
	QueueSize         int                `yaml:"queue_size"`         // webhook: items waiting; 0: the default (1000)
	MaxAttempts       int                `yaml:"max_attempts"`       // webhook: tries per item; 0: the default (5)
	MinSeverity       detectors.Severity `yaml:"min_severity"`       // 0: every severity
	Detectors         []string           `yaml:"detectors"`          // empty: every detector
	IncludeSuppressed bool               `yaml:"include_suppressed"` // default false
}

// Sink types.
const (
	SinkStdout  = "stdout"
	SinkFile    = "file"
	SinkWebhook = "webhook"
)

// sinks checks the sinks list, one error per problem, each naming its key.
func (c *Config) sinks(ids []string) error {
	var errs []error
	for i, s := range c.Sinks {
		errs = append(errs, c.checkSink(fmt.Sprintf("sinks[%d]", i), s, ids)...)
	}
	return errors.Join(errs...)
}

// checkSink checks the sinks entry at key at.
func (c *Config) checkSink(at string, s Sink, ids []string) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, c.errorf(at+"."+key, format, args...))
	}
	switch s.Type {
	case SinkStdout, SinkFile, SinkWebhook:
	case "":
		bad("type", "required: stdout, file or webhook")
	default:
		bad("type", "%q is not a sink type (want stdout, file or webhook)", s.Type)
	}
	switch s.Format {
	case "", "json", "ocsf":
	default:
		bad("format", "%q is not a format (want json or ocsf)", s.Format)
	}
	// Keys that belong to one type only.
	only := func(key, typ string, given bool) {
		if given && s.Type != typ && s.Type != "" {
			bad(key, "only for type %s", typ)
		}
	}
	only("path", SinkFile, s.Path != "")
	only("url", SinkWebhook, s.URL != "")
	only("headers", SinkWebhook, len(s.Headers) > 0)
	only("timeout", SinkWebhook, s.Timeout != 0)
	only("queue_size", SinkWebhook, s.QueueSize != 0)
	only("max_attempts", SinkWebhook, s.MaxAttempts != 0)
	if s.Type == SinkFile && s.Path == "" {
		bad("path", "required for type file: the file findings are appended to")
	}
	if s.Type == SinkWebhook {
		if err := checkWebhookURL(s.URL); err != nil {
			bad("url", "%w", err)
		}
	}
	if s.Timeout < 0 {
		bad("timeout", "%s is negative", s.Timeout)
	}
	if s.QueueSize < 0 {
		bad("queue_size", "%d is negative", s.QueueSize)
	}
	if s.MaxAttempts < 0 {
		bad("max_attempts", "%d is negative", s.MaxAttempts)
	}
	for j, d := range s.Detectors {
		if !slices.Contains(ids, d) {
			bad(fmt.Sprintf("detectors[%d]", j), "unknown detector %q (known: %s)", d, strings.Join(sorted(ids), ", "))
		}
	}
	return errs
}

func checkWebhookURL(v string) error {
	if v == "" {
		return errors.New("required for type webhook: the http(s) URL findings are POSTed to")
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http:// or https:// URL", v)
	}
	return nil
}
