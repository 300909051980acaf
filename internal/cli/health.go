package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// healthFlags are the flags of `iamsentry health`.
type healthFlags struct {
	addr, service                         string
	timeout                               time.Duration
	useTLS                                bool
	tlsCA, tlsCert, tlsKey, tlsServerName string
	tokenFile                             string
}

func (f *healthFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "addr", "", "gRPC address `host:port` of the server to probe (required)")
	fs.StringVar(&f.service, "service", "", "health-check service `name`: \"\" for the server as a whole, or iamsentry.v1.DetectionService")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Second, "give up after this long")
	fs.BoolVar(&f.useTLS, "tls", false, "connect over TLS (implied by any --tls-* flag); the system roots verify the server unless --tls-ca-file is given")
	fs.StringVar(&f.tlsCA, "tls-ca-file", "", "PEM bundle `file` of the CAs that sign the server's certificate")
	fs.StringVar(&f.tlsCert, "tls-cert-file", "", "client certificate `file` (PEM), for servers that require mutual TLS")
	fs.StringVar(&f.tlsKey, "tls-key-file", "", "client key `file` (PEM) of --tls-cert-file")
	fs.StringVar(&f.tlsServerName, "tls-server-name", "", "`name` to verify the server's certificate against (default: the host of --addr)")
	fs.StringVar(&f.tokenFile, "token-file", "", "send the bearer token in this `file` (needs TLS), for servers run with --open-health=false")
}

// health probes a server's gRPC health: exit 0 when SERVING, 1 otherwise
// (not serving, unreachable, refused), 2 on a bad command line. It is the
// probe for containers without grpcurl.
func health(ctx context.Context, args []string, stdio Stdio) int {
	var f healthFlags
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	f.register(fs)
	if code, ok := parseFlags(fs, args, stdio.Err); !ok {
		return code
	}
	dialOpts, err := f.dialOptions(fs)
	if err != nil {
		fmt.Fprintf(stdio.Err, "iamsentry health: %v\n", err)
		return ExitUsage
	}
	conn, err := grpc.NewClient(f.addr, dialOpts...)
	if err != nil {
		fmt.Fprintf(stdio.Err, "iamsentry health: %v\n", err)
		return ExitUsage
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: f.service})
	if err != nil {
		st := status.Convert(err)
		fmt.Fprintf(stdio.Err, "iamsentry health: %s: %s: %s\n", f.addr, st.Code(), st.Message())
		return ExitError
	}
	fmt.Fprintf(stdio.Out, "%s\n", resp.GetStatus())
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return ExitError
	}
	return ExitOK
}

// dialOptions checks the command line and turns it into dial options.
func (f *healthFlags) dialOptions(fs *flag.FlagSet) ([]grpc.DialOption, error) {
	var errs []error
	if f.addr == "" {
		errs = append(errs, errors.New("--addr is required"))
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if f.timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %v: want a positive duration", f.timeout))
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		errs = append(errs, errors.New("--tls-cert-file and --tls-key-file go together"))
	}
	useTLS := f.useTLS || f.tlsCA != "" || f.tlsCert != "" || f.tlsServerName != ""
	if f.tokenFile != "" && !useTLS {
		errs = append(errs, errors.New("--token-file needs TLS: a bearer token is not sent in plaintext"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	creds := insecure.NewCredentials()
	if useTLS {
		cfg, err := f.tlsConfig()
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(cfg)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if f.tokenFile != "" {
		raw, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("token file: %w", err)
		}
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken(strings.TrimSpace(string(raw)))))
	}
	return opts, nil
}

func (f *healthFlags) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.tlsServerName}
	if f.tlsCA != "" {
		pem, err := os.ReadFile(f.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca-file: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca-file %s: no PEM certificate in it", f.tlsCA)
		}
	}
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert-file/--tls-key-file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// bearerToken is per-call credentials sending a bearer token over TLS.
type bearerToken string

func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return true }
