package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/iamsentry/iamsentry/clients/iamsentry"
)

// defaultAddr is the server the client commands (replay, health) call
// unless --addr says otherwise: where `make run` and serve's default
// --listen put it.
const defaultAddr = "localhost:50051"

// tokenEnv names the environment variable --token defaults to.
const tokenEnv = "IAMSENTRY_TOKEN"

// connFlags are the flags of every command that calls a server: one set of
// names, defaults and meanings for replay and health.
type connFlags struct {
	addr                      string
	tls                       bool
	ca, cert, key, serverName string
	token, tokenFile          string
	tokenPlain                bool
}

func (f *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "addr", defaultAddr, "server `target`: host:port, or dns:///name:port for every replica a (headless) DNS name lists")
	fs.BoolVar(&f.tls, "tls", false, "connect over TLS (implied by the other --tls-* flags); the system roots verify the server unless --tls-ca-file")
	fs.StringVar(&f.ca, "tls-ca-file", "", "PEM `file` of the CAs that sign the server's certificate")
	fs.StringVar(&f.cert, "tls-cert-file", "", "client certificate PEM `file`, for mutual TLS; needs --tls-key-file")
	fs.StringVar(&f.key, "tls-key-file", "", "client key PEM `file`, for mutual TLS")
	fs.StringVar(&f.serverName, "tls-server-name", "", "`name` to verify the server's certificate against (default: the host of --addr)")
	// The default is applied after parsing (env), so -h never prints a token.
	fs.StringVar(&f.token, "token", "", "bearer `token` (default $"+tokenEnv+"; prefer --token-file: flags show in ps)")
	fs.StringVar(&f.tokenFile, "token-file", "", "read the bearer token from `file` (for servers run with --tokens; health needs it with --open-health=false)")
	fs.BoolVar(&f.tokenPlain, "token-over-plaintext", false, "allow a token without TLS (tests on loopback only)")
}

// fromEnv fills in what the environment supplies; call it after parsing.
func (f *connFlags) fromEnv() {
	if f.token == "" && f.tokenFile == "" {
		f.token = os.Getenv(tokenEnv)
	}
}

func (f *connFlags) useTLS() bool {
	return f.tls || f.ca != "" || f.cert != "" || f.key != "" || f.serverName != ""
}

// clientOptions turns the flags into the Go client's options (replay).
func (f *connFlags) clientOptions() []iamsentry.Option {
	var opts []iamsentry.Option
	if f.useTLS() {
		opts = append(opts, iamsentry.WithTLS(iamsentry.TLS{CAFile: f.ca, CertFile: f.cert, KeyFile: f.key, ServerName: f.serverName}))
	}
	if f.tokenFile != "" {
		opts = append(opts, iamsentry.WithTokenFile(f.tokenFile))
	} else if f.token != "" {
		opts = append(opts, iamsentry.WithToken(f.token))
	}
	if f.tokenPlain {
		opts = append(opts, iamsentry.WithTokenOverPlaintext())
	}
	return opts
}

// dialOptions turns the flags into gRPC dial options (health), with the
// rules the Go client applies: a certificate needs its key, a token needs
// TLS unless --token-over-plaintext.
func (f *connFlags) dialOptions() ([]grpc.DialOption, error) {
	var errs []error
	if (f.cert == "") != (f.key == "") {
		errs = append(errs, errors.New("--tls-cert-file and --tls-key-file go together"))
	}
	if (f.token != "" || f.tokenFile != "") && !f.useTLS() && !f.tokenPlain {
		errs = append(errs, errors.New("refusing to send a bearer token over plaintext: use TLS (--tls, --tls-ca-file) or --token-over-plaintext"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	creds := insecure.NewCredentials()
	if f.useTLS() {
		cfg, err := f.tlsConfig()
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(cfg)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	token := f.token
	if f.tokenFile != "" {
		raw, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		token = strings.TrimSpace(string(raw))
	}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearerToken{token: token, secure: !f.tokenPlain}))
	}
	return opts, nil
}

func (f *connFlags) tlsConfig() (*tls.Config, error) {
	t := iamsentry.TLS{CAFile: f.ca, CertFile: f.cert, KeyFile: f.key, ServerName: f.serverName}
	cfg, err := t.Config()
	if err != nil {
		return nil, fmt.Errorf("--tls-ca-file/--tls-cert-file/--tls-key-file: %w", err)
	}
	return cfg, nil
}

// bearerToken is per-call credentials sending a bearer token, over TLS
// unless secure is false (--token-over-plaintext).
type bearerToken struct {
	token  string
	secure bool
}

func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearerToken) RequireTransportSecurity() bool { return b.secure }
