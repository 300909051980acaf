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
// (serve only; scan writes its own output).
type Sink struct {
	Type              string            `yaml:"type"`               // stdout, file or webhook
	Format            string            `yaml:"format"`             // json (default) or ocsf
	Path              string            `yaml:"path"`               // file: where to append JSON lines
	URL               string            `yaml:"url"`                // webhook: http(s) URL to POST to
	Headers           map[string]string `yaml:"headers"`            // webhook: added to each request
	Timeout           string            `yaml:"timeout"`            // webhook: per attempt; default 10s
	QueueSize         int               `yaml:"queue_size"`         // webhook: items waiting; default 1000
	MaxAttempts       int               `yaml:"max_attempts"`       // webhook: tries per item; default 5
	MinSeverity       string            `yaml:"min_severity"`       // default: every severity
	Detectors         []string          `yaml:"detectors"`          // default: every detector
	IncludeSuppressed bool              `yaml:"include_suppressed"` // default false
}

// SinkSetting is a checked sink entry.
type SinkSetting struct {
	Entry             int // position in the sinks list
	Type              string
	Format            string
	Path              string
	URL               string
	Headers           map[string]string
	Timeout           time.Duration // 0: the default
	QueueSize         int           // 0: the default
	MaxAttempts       int           // 0: the default
	MinSeverity       detectors.Severity
	Detectors         []string
	IncludeSuppressed bool
}

// Sink types.
const (
	SinkStdout  = "stdout"
	SinkFile    = "file"
	SinkWebhook = "webhook"
)

// sinks checks the sinks list, one error per problem, each naming its key.
func (c *Config) sinks(ids []string) ([]SinkSetting, error) {
	var out []SinkSetting
	var errs []error
	for i, s := range c.Sinks {
		at := fmt.Sprintf("sinks[%d]", i)
		n := len(errs)
		bad := func(key, format string, args ...any) {
			errs = append(errs, c.errorf(at+"."+key, format, args...))
		}
		set := SinkSetting{Entry: i, Type: s.Type, Format: s.Format, Path: s.Path, URL: s.URL, Headers: s.Headers,
			QueueSize: s.QueueSize, MaxAttempts: s.MaxAttempts, Detectors: s.Detectors, IncludeSuppressed: s.IncludeSuppressed}
		switch s.Type {
		case SinkStdout, SinkFile, SinkWebhook:
		case "":
			bad("type", "required: stdout, file or webhook")
		default:
			bad("type", "%q is not a sink type (want stdout, file or webhook)", s.Type)
		}
		switch s.Format {
		case "":
			set.Format = "json"
		case "json", "ocsf":
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
		only("timeout", SinkWebhook, s.Timeout != "")
		only("queue_size", SinkWebhook, s.QueueSize != 0)
		only("max_attempts", SinkWebhook, s.MaxAttempts != 0)
		if s.Type == SinkFile && s.Path == "" {
			bad("path", "required for type file: the file findings are appended to")
		}
		if s.Type == SinkWebhook {
			if err := checkWebhookURL(s.URL); err != nil {
				bad("url", "%v", err)
			}
		}
		if s.Timeout != "" {
			d, err := time.ParseDuration(s.Timeout)
			if err != nil || d <= 0 {
				bad("timeout", "%q is not a positive duration (e.g. 10s)", s.Timeout)
			}
			set.Timeout = d
		}
		if s.QueueSize < 0 {
			bad("queue_size", "%d is negative", s.QueueSize)
		}
		if s.MaxAttempts < 0 {
			bad("max_attempts", "%d is negative", s.MaxAttempts)
		}
		if s.MinSeverity != "" {
			sev, err := detectors.ParseSeverity(s.MinSeverity)
			if err != nil {
				bad("min_severity", "%q is not a severity (want INFO, LOW, MEDIUM, HIGH or CRITICAL)", s.MinSeverity)
			}
			set.MinSeverity = sev
		}
		for j, d := range s.Detectors {
			if !slices.Contains(ids, d) {
				bad(fmt.Sprintf("detectors[%d]", j), "unknown detector %q (known: %s)", d, strings.Join(sorted(ids), ", "))
			}
		}
		if len(errs) == n {
			out = append(out, set)
		}
	}
	return out, errors.Join(errs...)
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
