package plugin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/clients/iamsentry"
)

// Config is one [OUTPUT] section of the plugin. Its keys avoid those
// Fluent Bit's core takes for itself (host, port, tls, tls.*, workers,
// retry_limit, match, alias): the core would consume them and the plugin
// would never see them. TLS is on when a CA or client certificate is
// given, or with tls_enable on (system roots).
type Config struct {
	Address      string        // address: gRPC target; default localhost:50051
	TLS          bool          // tls_enable
	CAFile       string        // tls_ca_file
	CertFile     string        // tls_cert_file
	KeyFile      string        // tls_key_file
	ServerName   string        // tls_server_name
	Token        string        // token
	TokenFile    string        // token_file
	BatchSize    int           // batch_size: records per request; default 500
	Window       int           // window: requests in flight; default 4
	Timeout      time.Duration // timeout: for one flush before it is retried; default 60s
	FindingsFile string        // findings_file: JSON lines; default (empty or "-") stdout
	Learn        bool          // learn
}

// Keys lists every configuration key the plugin reads.
var Keys = []string{
	"address", "tls_enable", "tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name",
	"token", "token_file", "batch_size", "window", "timeout", "findings_file", "learn",
}

// ParseConfig reads the configuration through get, which returns a key's
// value or "" (FLBPluginConfigKey). It reports every bad value at once.
func ParseConfig(get func(key string) string) (Config, error) {
	c := Config{
		Address: get("address"), CAFile: get("tls_ca_file"), CertFile: get("tls_cert_file"),
		KeyFile: get("tls_key_file"), ServerName: get("tls_server_name"), Token: get("token"),
		TokenFile: get("token_file"), FindingsFile: get("findings_file"),
		BatchSize: 500, Window: 4, Timeout: time.Minute,
	}
	if c.Address == "" {
		c.Address = "localhost:50051"
	}
	var errs []error
	boolKey := func(key string, dst *bool) {
		if v := get(key); v != "" {
			b, err := parseBool(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
			}
			*dst = b
		}
	}
	intKey := func(key string, dst *int) {
		if v := get(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				errs = append(errs, fmt.Errorf("%s: want a positive integer, got %q", key, v))
			}
			*dst = n
		}
	}
	boolKey("tls_enable", &c.TLS)
	boolKey("learn", &c.Learn)
	intKey("batch_size", &c.BatchSize)
	intKey("window", &c.Window)
	if v := get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("timeout: want a duration such as 30s, got %q", v))
		}
		c.Timeout = d
	}
	if c.Token != "" && c.TokenFile != "" {
		errs = append(errs, errors.New("token and token_file: give one"))
	}
	return c, errors.Join(errs...)
}

// parseBool accepts Fluent Bit's spellings: on/off, true/false, yes/no.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("want on or off, got %q", v)
}

// Options returns the client options the configuration asks for.
func (c Config) Options() []iamsentry.Option {
	opts := []iamsentry.Option{
		iamsentry.WithBatch(c.BatchSize), iamsentry.WithWindow(c.Window), iamsentry.WithLearn(c.Learn),
		iamsentry.WithBackoff(100*time.Millisecond, 5*time.Second),
	}
	if c.TLS || c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.ServerName != "" {
		opts = append(opts, iamsentry.WithTLS(iamsentry.TLS{CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile, ServerName: c.ServerName}))
	}
	if c.Token != "" {
		opts = append(opts, iamsentry.WithToken(c.Token))
	}
	if c.TokenFile != "" {
		opts = append(opts, iamsentry.WithTokenFile(c.TokenFile))
	}
	return opts
}
