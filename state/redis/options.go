package redis

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultPrefix starts every key unless Options.Prefix says otherwise.
const DefaultPrefix = "iamsentry:"

// Default ports filled in for addresses that name none.
const (
	defaultPort         = "6379"
	defaultSentinelPort = "26379"
)

// Options says how to reach Redis and how to lay out keys. ParseOptions
// builds one from the single setting an operator writes; wiring code may
// also fill it directly. The zero value of every field but Addrs is usable.
type Options struct {
	// Addrs are host:port pairs: the server (standalone), a seed list of
	// cluster nodes (Cluster), or the Sentinels (MasterName set).
	Addrs []string

	// Cluster selects Redis Cluster even with a single seed address. Two or
	// more Addrs without MasterName mean Cluster as well.
	Cluster bool

	// MasterName selects Sentinel: Addrs are Sentinels, and MasterName is the
	// master they watch.
	MasterName string

	Username string // ACL user; "" is the default user
	Password string // ACL password, or the requirepass password
	DB       int    // database number; standalone and Sentinel only

	// SentinelUsername and SentinelPassword authenticate to the Sentinels
	// themselves, when they require it.
	SentinelUsername string
	SentinelPassword string

	// TLS turns on TLS (the rediss:// scheme). The remaining fields refine it.
	TLS                   bool
	TLSCAFile             string // PEM bundle to verify the server with, instead of the system roots
	TLSCertFile           string // client certificate (PEM), for mutual TLS; needs TLSKeyFile
	TLSKeyFile            string // its private key (PEM)
	TLSServerName         string // name to verify instead of the host dialed
	TLSInsecureSkipVerify bool   // skip verification: for tests only

	// Prefix starts every key, so several deployments can share a server.
	// "" means DefaultPrefix. It must not contain '{' or '}', which would
	// move the Cluster hash tag.
	Prefix string

	// Timeouts and pool size; zero keeps go-redis's defaults (5s dial,
	// 3s read and write, 10 connections per CPU).
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	PoolSize     int

	// AllowEviction lets the store run on a server whose maxmemory-policy
	// evicts keys (anything but noeviction). Eviction silently forgets
	// detection state, so CheckMemoryPolicy refuses such a server unless
	// this is set (URL: allow_eviction=true).
	AllowEviction bool

	// Layout says how state is laid out in Redis (URL: layout=record or
	// layout=keys): LayoutRecord ("" too), all state of one identity as one
	// string (paged when large) that the scorer reads, changes and writes
	// back with a version check; or LayoutKeys, a Redis key per state key
	// and a Lua group script per identity (see the package documentation).
	// The two layouts do not read each other's keys.
	Layout string
}

// The layouts Options.Layout names.
const (
	LayoutKeys   = "keys"
	LayoutRecord = "record"
)

// ParseOptions parses the one setting that selects a Redis deployment: a
// redis:// or rediss:// URL, or a bare comma-separated list of host:port
// addresses. The package documentation gives the syntax. Errors name the
// offending part of s, never the password.
func ParseOptions(s string) (Options, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Options{}, errors.New("redis: empty address: want redis://host:port or host:port[,host:port...]")
	}
	if !strings.Contains(s, "://") {
		o := Options{}
		addrs, err := parseAddrs(s, defaultPort)
		if err != nil {
			return Options{}, err
		}
		o.Addrs = addrs
		o.Cluster = len(addrs) > 1
		return o, o.validate()
	}
	return parseURL(s)
}

// parseURL parses a redis:// or rediss:// URL. The authority is split by
// hand: net/url refuses a comma-separated host list, and its errors quote
// the whole URL, password included.
func parseURL(s string) (Options, error) {
	scheme, rest, _ := strings.Cut(s, "://")
	var o Options
	switch scheme {
	case "redis":
	case "rediss":
		o.TLS = true
	default:
		return Options{}, fmt.Errorf("redis: URL scheme %q: want redis or rediss", scheme)
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	hosts, tail := rest[:end], rest[end:]
	if at := strings.LastIndex(hosts, "@"); at >= 0 {
		if err := o.parseUserinfo(hosts[:at]); err != nil {
			return Options{}, err
		}
		hosts = hosts[at+1:]
	}
	u, err := url.Parse("redis://host" + tail)
	if err != nil {
		return Options{}, fmt.Errorf("redis: URL path or query %q: %w", tail, errors.Unwrap(err))
	}
	if u.Fragment != "" {
		return Options{}, fmt.Errorf("redis: URL fragment #%s: a Redis URL has none", u.Fragment)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Options{}, fmt.Errorf("redis: URL query: %w", err)
	}
	if err := o.parseQuery(q); err != nil {
		return Options{}, err
	}
	port := defaultPort
	if o.MasterName != "" {
		port = defaultSentinelPort
	}
	if hosts == "" {
		return Options{}, errors.New("redis: URL names no host: want redis://host:port")
	}
	if o.Addrs, err = parseAddrs(hosts, port); err != nil {
		return Options{}, err
	}
	if err := o.parseDBPath(u.Path); err != nil {
		return Options{}, err
	}
	if len(o.Addrs) > 1 && o.MasterName == "" {
		if v := q.Get("cluster"); v != "" && !o.Cluster {
			return Options{}, fmt.Errorf("redis: URL query cluster=%s with %d hosts: several hosts need Cluster or master_name (Sentinel)", v, len(o.Addrs))
		}
		o.Cluster = true
	}
	return o, o.validate()
}

// parseUserinfo reads user:password, percent-decoded. Errors never repeat
// the password.
func (o *Options) parseUserinfo(info string) error {
	user, pass, _ := strings.Cut(info, ":")
	var err error
	if o.Username, err = url.PathUnescape(user); err != nil {
		return fmt.Errorf("redis: URL user name: %w", err)
	}
	if o.Password, err = url.PathUnescape(pass); err != nil {
		return errors.New("redis: URL password: invalid percent-escape (escape '%' as %25)")
	}
	return nil
}

// parseAddrs splits a comma-separated host list and gives each host a port.
func parseAddrs(list, port string) ([]string, error) {
	var addrs []string
	for a := range strings.SplitSeq(list, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			return nil, fmt.Errorf("redis: address list %q has an empty entry", list)
		}
		host, p, err := net.SplitHostPort(a)
		if err != nil {
			// No port: "host", "[::1]" or a bare IPv6 address.
			host, p = strings.TrimSuffix(strings.TrimPrefix(a, "["), "]"), port
			if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
				return nil, fmt.Errorf("redis: address %q: want host:port", a)
			}
		}
		if host == "" {
			return nil, fmt.Errorf("redis: address %q names no host", a)
		}
		if net.ParseIP(host) == nil && strings.Trim(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != "" {
			return nil, fmt.Errorf("redis: address %q: host %q is not a host name or IP address", a, host)
		}
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return nil, fmt.Errorf("redis: address %q: port %q is not a number in 1-65535", a, p)
		}
		addrs = append(addrs, net.JoinHostPort(host, p))
	}
	return addrs, nil
}

func (o *Options) parseDBPath(path string) error {
	p := strings.Trim(path, "/")
	if p == "" {
		return nil
	}
	db, err := strconv.Atoi(p)
	if err != nil || db < 0 {
		return fmt.Errorf("redis: URL path %q: want /<database number>, e.g. /0", path)
	}
	o.DB = db
	return nil
}

// queryParams are the URL query parameters ParseOptions understands.
var queryParams = []string{
	"cluster", "master_name", "sentinel_username", "sentinel_password", "db", "prefix",
	"tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name", "tls_insecure_skip_verify",
	"dial_timeout", "read_timeout", "write_timeout", "pool_size", "allow_eviction",
	"layout",
}

func (o *Options) parseQuery(q url.Values) error {
	var errs []error
	for name, vals := range q {
		if !slices.Contains(queryParams, name) {
			errs = append(errs, fmt.Errorf("redis: URL query parameter %q is unknown (known: %s)", name, strings.Join(queryParams, ", ")))
			continue
		}
		if len(vals) > 1 {
			errs = append(errs, fmt.Errorf("redis: URL query parameter %q is given %d times", name, len(vals)))
			continue
		}
		if err := o.setParam(name, vals[0]); err != nil {
			errs = append(errs, fmt.Errorf("redis: URL query parameter %s: %w", name, err))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

func (o *Options) setParam(name, v string) (err error) {
	switch name {
	case "cluster":
		o.Cluster, err = parseBool(v)
	case "tls_insecure_skip_verify":
		o.TLSInsecureSkipVerify, err = parseBool(v)
	case "allow_eviction":
		o.AllowEviction, err = parseBool(v)
	case "layout":
		o.Layout = v
	case "master_name":
		o.MasterName = v
	case "sentinel_username":
		o.SentinelUsername = v
	case "sentinel_password":
		o.SentinelPassword = v
	case "prefix":
		o.Prefix = v
	case "tls_ca_file":
		o.TLSCAFile = v
	case "tls_cert_file":
		o.TLSCertFile = v
	case "tls_key_file":
		o.TLSKeyFile = v
	case "tls_server_name":
		o.TLSServerName = v
	case "db":
		o.DB, err = parseCount(v)
	case "pool_size":
		o.PoolSize, err = parseCount(v)
	case "dial_timeout":
		o.DialTimeout, err = parseTimeout(v)
	case "read_timeout":
		o.ReadTimeout, err = parseTimeout(v)
	case "write_timeout":
		o.WriteTimeout, err = parseTimeout(v)
	}
	return err
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%q is not a boolean (true or false)", v)
	}
	return b, nil
}

func parseCount(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a non-negative integer", v)
	}
	return n, nil
}

func parseTimeout(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration such as 500ms or 3s", v)
	}
	return d, nil
}

// validate checks the combinations the fields allow.
func (o Options) validate() error {
	var errs []error
	if len(o.Addrs) == 0 {
		errs = append(errs, errors.New("redis: no address"))
	}
	if o.Cluster && o.MasterName != "" {
		errs = append(errs, errors.New("redis: cluster and master_name exclude each other: Cluster has no Sentinel"))
	}
	if o.Cluster && o.DB != 0 {
		errs = append(errs, fmt.Errorf("redis: database %d: Cluster has database 0 only", o.DB))
	}
	if len(o.Addrs) > 1 && !o.Cluster && o.MasterName == "" {
		errs = append(errs, fmt.Errorf("redis: %d addresses without Cluster or MasterName: which deployment is it?", len(o.Addrs)))
	}
	if strings.ContainsAny(o.Prefix, "{}") {
		errs = append(errs, fmt.Errorf("redis: prefix %q contains '{' or '}', which would move the Cluster hash tag", o.Prefix))
	}
	if o.Layout != "" && o.Layout != LayoutKeys && o.Layout != LayoutRecord {
		errs = append(errs, fmt.Errorf("redis: layout %q is unknown: want %s or %s", o.Layout, LayoutKeys, LayoutRecord))
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		errs = append(errs, errors.New("redis: tls_cert_file and tls_key_file go together: give both or neither"))
	}
	if !o.TLS && (o.TLSCAFile != "" || o.TLSCertFile != "" || o.TLSServerName != "" || o.TLSInsecureSkipVerify) {
		errs = append(errs, errors.New("redis: TLS settings given without TLS: use the rediss:// scheme"))
	}
	return errors.Join(errs...)
}

// prefix returns the key prefix in force.
func (o Options) prefix() string {
	if o.Prefix == "" {
		return DefaultPrefix
	}
	return o.Prefix
}

// String renders the options as a URL that ParseOptions reads back, with
// passwords replaced by "xxxxx": safe to log.
func (o Options) String() string {
	u := url.URL{Scheme: "redis", Host: strings.Join(o.Addrs, ",")}
	if o.TLS {
		u.Scheme = "rediss"
	}
	switch {
	case o.Password != "":
		u.User = url.UserPassword(o.Username, "xxxxx")
	case o.Username != "":
		u.User = url.User(o.Username)
	}
	if o.DB != 0 {
		u.Path = "/" + strconv.Itoa(o.DB)
	}
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	if o.Cluster && len(o.Addrs) < 2 {
		q.Set("cluster", "true")
	}
	set("master_name", o.MasterName)
	set("sentinel_username", o.SentinelUsername)
	if o.SentinelPassword != "" {
		q.Set("sentinel_password", "xxxxx")
	}
	set("prefix", o.Prefix)
	set("tls_ca_file", o.TLSCAFile)
	set("tls_cert_file", o.TLSCertFile)
	set("tls_key_file", o.TLSKeyFile)
	set("tls_server_name", o.TLSServerName)
	if o.TLSInsecureSkipVerify {
		q.Set("tls_insecure_skip_verify", "true")
	}
	for k, d := range map[string]time.Duration{"dial_timeout": o.DialTimeout, "read_timeout": o.ReadTimeout, "write_timeout": o.WriteTimeout} {
		if d > 0 {
			q.Set(k, d.String())
		}
	}
	if o.PoolSize > 0 {
		q.Set("pool_size", strconv.Itoa(o.PoolSize))
	}
	if o.AllowEviction {
		q.Set("allow_eviction", "true")
	}
	set("layout", o.Layout)
	u.RawQuery = q.Encode()
	return u.String()
}

// LogValue implements slog.LogValuer: options log as their redacted URL.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// tlsConfig builds the TLS configuration, reading the files it names.
func (o Options) tlsConfig() (*tls.Config, error) {
	if !o.TLS {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         o.TLSServerName,
		InsecureSkipVerify: o.TLSInsecureSkipVerify, //nolint:gosec // opt-in, documented as for tests
	}
	if o.TLSCAFile != "" {
		pem, err := os.ReadFile(o.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("redis: tls_ca_file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("redis: tls_ca_file %s holds no PEM certificate", o.TLSCAFile)
		}
	}
	if o.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("redis: tls_cert_file/tls_key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// universal converts the options to go-redis's.
func (o Options) universal() (*goredis.UniversalOptions, error) {
	tc, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	return &goredis.UniversalOptions{
		Addrs:            o.Addrs,
		IsClusterMode:    o.Cluster,
		MasterName:       o.MasterName,
		Username:         o.Username,
		Password:         o.Password,
		SentinelUsername: o.SentinelUsername,
		SentinelPassword: o.SentinelPassword,
		DB:               o.DB,
		TLSConfig:        tc,
		DialTimeout:      o.DialTimeout,
		ReadTimeout:      o.ReadTimeout,
		WriteTimeout:     o.WriteTimeout,
		PoolSize:         o.PoolSize,
		// A retried pipeline may run ops twice (a NoveltyAdd would then say
		// "not new"): an outage surfaces as ErrUnavailable instead, and the
		// caller retries the whole batch, which dedupe makes safe.
		MaxRetries: -1,
		// Context deadlines bound each Exec, as the state contract asks.
		ContextTimeoutEnabled: true,
		DisableIdentity:       true,
	}, nil
}
