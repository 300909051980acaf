package iamsentry

import (
	"crypto/tls"
	"log/slog"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
)

// Defaults of the tuning options.
const (
	DefaultBatch         = 100
	DefaultMaxBatchBytes = 4 << 20
	DefaultWindow        = 8
	DefaultStreams       = 1
	DefaultLinger        = 20 * time.Millisecond
	DefaultBackoffBase   = 100 * time.Millisecond
	DefaultBackoffMax    = 10 * time.Second
)

// An Option configures a Client at Dial.
type Option func(*options)

type options struct {
	tlsFiles      *TLS
	tlsConfig     *tls.Config
	token         string
	tokenFile     string
	tokenPlain    bool
	batch         int
	maxBatchBytes int
	window        int
	streams       int
	linger        time.Duration
	backoffBase   time.Duration
	backoffMax    time.Duration
	giveUp        time.Duration
	learn         bool
	logger        *slog.Logger
	dialOpts      []grpc.DialOption
	otelOpts      []otelgrpc.Option
	noTelemetry   bool
}

func defaultOptions() options {
	return options{
		batch: DefaultBatch, maxBatchBytes: DefaultMaxBatchBytes, window: DefaultWindow,
		streams: DefaultStreams, linger: DefaultLinger,
		backoffBase: DefaultBackoffBase, backoffMax: DefaultBackoffMax,
		logger: slog.New(slog.DiscardHandler),
	}
}

// TLS names the files of a TLS or mutual-TLS connection.
type TLS struct {
	// CAFile is a PEM bundle of the certificate authorities trusted to sign
	// the server's certificate; empty means the system roots.
	CAFile string
	// CertFile and KeyFile are the client's PEM certificate and key, for
	// servers that require mutual TLS. Both or neither.
	CertFile, KeyFile string
	// ServerName overrides the name checked against the server's
	// certificate (default: the host of the target).
	ServerName string
}

// WithTLS connects over TLS, with the files named by t.
func WithTLS(t TLS) Option { return func(o *options) { o.tlsFiles = &t } }

// WithTLSConfig connects over TLS with a configuration of the caller's; it
// takes precedence over WithTLS.
func WithTLSConfig(c *tls.Config) Option { return func(o *options) { o.tlsConfig = c } }

// WithToken sends token as "authorization: Bearer <token>" on every call.
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// WithTokenFile reads the bearer token from path (surrounding white space
// trimmed) whenever a gRPC stream opens, so a rotated token (a projected
// Kubernetes service-account token) is picked up without a restart.
func WithTokenFile(path string) Option { return func(o *options) { o.tokenFile = path } }

// WithTokenOverPlaintext lets a token travel without TLS. It exists for
// tests on loopback; anyone on the path can read a token sent this way.
func WithTokenOverPlaintext() Option { return func(o *options) { o.tokenPlain = true } }

// WithBatch sets how many records one request carries at most (default
// 100). Keep it at or below the server's --max-events-per-request.
func WithBatch(n int) Option { return func(o *options) { o.batch = n } }

// WithMaxBatchBytes bounds the record bytes of one request (default 4 MiB,
// under the server's default 16 MiB message limit). A single record larger
// than this is sent alone.
func WithMaxBatchBytes(n int) Option { return func(o *options) { o.maxBatchBytes = n } }

// WithWindow sets how many requests may be in flight, unanswered, on one
// gRPC stream (default 8).
func WithWindow(n int) Option { return func(o *options) { o.window = n } }

// WithStreams sets how many gRPC streams one Stream spreads its batches
// over (default 1). With round_robin each lands on the next replica.
func WithStreams(n int) Option { return func(o *options) { o.streams = n } }

// WithLinger sets how long a partial batch waits for more records before it
// is sent anyway (default 20 ms).
func WithLinger(d time.Duration) Option { return func(o *options) { o.linger = d } }

// WithBackoff sets the first and the largest delay between reconnection
// attempts (defaults 100 ms and 10 s). Delays double per failed attempt,
// with ±20% jitter, and start again from base once a response arrives.
func WithBackoff(base, max time.Duration) Option {
	return func(o *options) { o.backoffBase, o.backoffMax = base, max }
}

// WithGiveUpAfter makes a Stream fail, rather than retry on, once the
// service has answered nothing for d while requests were outstanding and
// attempts failed. Zero (the default) retries until the context is done.
func WithGiveUpAfter(d time.Duration) Option { return func(o *options) { o.giveUp = d } }

// WithLearn sends every request with learn set: the server updates windows
// and baselines and remembers event ids but raises no finding. Use it to
// seed a deployment from history.
func WithLearn(learn bool) Option { return func(o *options) { o.learn = learn } }

// WithLogger logs reconnections and failures to l (default: nowhere).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithDialOptions appends gRPC dial options (keepalive, a resolver, an
// interceptor); they are applied after the client's own.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOpts = append(o.dialOpts, opts...) }
}

// WithTelemetryOptions passes options to the otelgrpc client stats handler
// (for example otelgrpc.WithTracerProvider).
func WithTelemetryOptions(opts ...otelgrpc.Option) Option {
	return func(o *options) { o.otelOpts = append(o.otelOpts, opts...) }
}

// WithoutTelemetry leaves the otelgrpc stats handler out.
func WithoutTelemetry() Option { return func(o *options) { o.noTelemetry = true } }
