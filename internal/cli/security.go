package cli

import (
	"crypto/tls"
	"errors"
	"flag"
	"log/slog"

	"github.com/iamsentry/iamsentry/server/auth"
)

// securityFlags are serve's TLS and authentication flags.
type securityFlags struct {
	tlsCert, tlsKey, tlsClientCA string
	tokens                       string
	openHealth                   bool
}

func (f *securityFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve gRPC over TLS with this PEM certificate `file` (reloaded when it changes); needs --tls-key")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key `file` of --tls-cert")
	fs.StringVar(&f.tlsClientCA, "tls-client-ca", "", "mutual TLS: PEM bundle `file` of the CAs that sign client certificates; a client's tenant is the <name> of its first URI SAN ending in /tenant/<name>, else its Subject CN")
	fs.StringVar(&f.tokens, "tokens", "", "bearer-token `file` (YAML: tokens: {<sha256 hex of a token>: <tenant>}); reloaded on SIGHUP")
	fs.BoolVar(&f.openHealth, "open-health", true, "let gRPC health checks and reflection in without credentials")
}

// security builds the server's TLS configuration and authenticator. With
// neither a client CA nor tokens, auth is nil: every call is the default
// tenant.
func (f *securityFlags) security(log *slog.Logger) (*tls.Config, *auth.Authenticator, error) {
	var errs []error
	if (f.tlsCert == "") != (f.tlsKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if f.tlsClientCA != "" && f.tlsCert == "" {
		errs = append(errs, errors.New("--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first"))
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	a := &auth.Authenticator{ClientCerts: f.tlsClientCA != "", OpenHealth: f.openHealth}
	if f.tokens != "" {
		t, err := auth.LoadTokens(f.tokens)
		if err != nil {
			return nil, nil, err
		}
		a.Tokens = t
	}
	var cfg *tls.Config
	if f.tlsCert != "" {
		var err error
		cfg, err = auth.ServerConfig(auth.ServerFiles{CertFile: f.tlsCert, KeyFile: f.tlsKey, ClientCAFile: f.tlsClientCA},
			!f.openHealth, log)
		if err != nil {
			return nil, nil, err
		}
	}
	if !a.Enabled() {
		a = nil
	}
	return cfg, a, nil
}

// logSecurity says at start-up how callers are authenticated; never a
// token.
func logSecurity(log *slog.Logger, cfg *tls.Config, a *auth.Authenticator, f *securityFlags) {
	if a == nil {
		log.Warn("authentication is off: every caller is the default tenant \"\" (set --tls-client-ca or --tokens to authenticate)",
			slog.Bool("tls", cfg != nil))
		return
	}
	methods := []string{}
	if a.ClientCerts {
		methods = append(methods, "client certificate")
	}
	if a.Tokens != nil {
		methods = append(methods, "bearer token")
	}
	log.Info("authentication on", slog.Any("methods", methods), slog.Bool("tls", cfg != nil),
		slog.Bool("open_health", a.OpenHealth), slog.String("tokens_file", f.tokens), slog.Int("tokens", tokenCount(a)))
	if cfg == nil {
		log.Warn("bearer tokens travel in plaintext: serve with --tls-cert and --tls-key unless TLS ends in front of iamsentry")
	}
}

func tokenCount(a *auth.Authenticator) int {
	if a.Tokens == nil {
		return 0
	}
	return a.Tokens.Len()
}
