package iamsentry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// Verdict is the server's answer for one record.
type Verdict = iamsentryv1.Verdict

// Finding is one detector's conclusion about one record.
type Finding = iamsentryv1.Finding

// ServiceConfig is the default gRPC service config: round_robin over every
// address the resolver returns, so a dns:/// target naming a headless
// Kubernetes Service spreads streams over all replicas.
const ServiceConfig = `{"loadBalancingConfig":[{"round_robin":{}}]}`

// Client is a connection (a pool of connections, one per replica) to the
// iamsentry service. It is safe for concurrent use.
type Client struct {
	conn *grpc.ClientConn
	rpc  iamsentryv1.DetectionServiceClient
	opts options

	mu      sync.Mutex
	streams map[*Stream]struct{}
	closed  bool
}

// Dial prepares a Client for target, a gRPC target such as
// "localhost:50051" or "dns:///iamsentry-headless.soc:50051". It does not
// wait for the server: connections are made on first use and remade as
// needed. It fails on options that cannot work: unreadable TLS files, a
// token without TLS, non-positive sizes.
func Dial(target string, opts ...Option) (*Client, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("iamsentry: %w", err)
	}
	dialOpts, err := o.grpcOptions()
	if err != nil {
		return nil, fmt.Errorf("iamsentry: %w", err)
	}
	conn, err := grpc.NewClient(target, dialOpts...)
	if err != nil {
		return nil, fmt.Errorf("iamsentry: %s: %w", target, err)
	}
	return &Client{conn: conn, rpc: iamsentryv1.NewDetectionServiceClient(conn), opts: o, streams: map[*Stream]struct{}{}}, nil
}

func (o *options) validate() error {
	var errs []error
	for _, v := range []struct {
		name string
		n    int
	}{{"batch", o.batch}, {"max batch bytes", o.maxBatchBytes}, {"window", o.window}, {"streams", o.streams}} {
		if v.n <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %d", v.name, v.n))
		}
	}
	if o.backoffBase <= 0 || o.backoffMax < o.backoffBase {
		errs = append(errs, fmt.Errorf("backoff: want 0 < base <= max, got %v and %v", o.backoffBase, o.backoffMax))
	}
	hasTLS := o.tlsConfig != nil || o.tlsFiles != nil
	if (o.token != "" || o.tokenFile != "") && !hasTLS && !o.tokenPlain {
		errs = append(errs, errors.New("refusing to send a bearer token over plaintext: configure TLS (or WithTokenOverPlaintext for tests)"))
	}
	if o.token != "" && o.tokenFile != "" {
		errs = append(errs, errors.New("give a token or a token file, not both"))
	}
	return errors.Join(errs...)
}

func (o *options) grpcOptions() ([]grpc.DialOption, error) {
	creds := insecure.NewCredentials()
	if o.tlsConfig != nil || o.tlsFiles != nil {
		cfg := o.tlsConfig
		if cfg == nil {
			var err error
			if cfg, err = o.tlsFiles.Config(); err != nil {
				return nil, err
			}
		}
		creds = credentials.NewTLS(cfg)
	}
	out := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultServiceConfig(ServiceConfig),
		// Reconnect the transport on the client's own schedule rather than
		// gRPC's default (up to two minutes), so a restarted replica is
		// used again within one backoff period.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: o.backoffBase, Multiplier: 2, Jitter: 0.2, MaxDelay: o.backoffMax},
			MinConnectTimeout: 5 * time.Second,
		}),
	}
	if o.token != "" || o.tokenFile != "" {
		out = append(out, grpc.WithPerRPCCredentials(&bearer{token: o.token, file: o.tokenFile, secure: !o.tokenPlain}))
	}
	if !o.noTelemetry {
		out = append(out, grpc.WithStatsHandler(otelgrpc.NewClientHandler(o.otelOpts...)))
	}
	return append(out, o.dialOpts...), nil
}

// Config builds the crypto/tls configuration t describes: TLS 1.2 or later,
// the CA bundle (system roots when CAFile is empty), the client certificate
// for mutual TLS, and ServerName.
func (t *TLS) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("TLS CA file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA file %s: no PEM certificate in it", t.CAFile)
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("TLS client certificate: give both the certificate and the key file")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// bearer is per-RPC credentials carrying a bearer token.
type bearer struct {
	token, file string
	secure      bool
}

var _ credentials.PerRPCCredentials = (*bearer)(nil)

func (b *bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	tok := b.token
	if b.file != "" {
		raw, err := os.ReadFile(b.file)
		if err != nil {
			return nil, fmt.Errorf("iamsentry: reading the token file: %w", err)
		}
		tok = strings.TrimSpace(string(raw))
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

func (b *bearer) RequireTransportSecurity() bool { return b.secure }

// Close closes every Stream still open (as Stream.Close with ctx, so they
// drain first unless ctx ends sooner), then the connections.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	streams := make([]*Stream, 0, len(c.streams))
	for s := range c.streams {
		streams = append(streams, s)
	}
	c.mu.Unlock()
	var errs []error
	for _, s := range streams {
		if err := s.Close(ctx); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, c.conn.Close())...)
}

// Score sends records on a Stream of their own and returns one verdict per
// record, in order. When some records got no verdict it returns the
// verdicts it has (nil where missing) and a *PartialError naming the
// others; IsRetryable says whether sending those again may help.
func (c *Client) Score(ctx context.Context, records [][]byte) ([]*Verdict, error) {
	s, err := c.NewStream(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*Verdict, len(records))
	perr := &PartialError{Total: len(records)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r := range s.Results() {
			i := r.Tag.(int)
			out[i] = r.Verdict
			if r.Err != nil {
				perr.add(i, r.Err)
			}
		}
	}()
	sent := len(records)
	for i, rec := range records {
		if err := s.Send(ctx, rec, i); err != nil {
			sent = i
			break
		}
	}
	closeErr := s.Close(ctx)
	<-done
	for i := sent; i < len(records); i++ {
		perr.add(i, cmpOr(closeErr, ErrClosed))
	}
	if len(perr.Failed) > 0 {
		return out, perr
	}
	return out, nil
}

func cmpOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}
