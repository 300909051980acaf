package auth

import (
	"context"
	"crypto/x509"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Authenticator decides who a call is. The zero value (and nil) lets every
// call in as the default tenant: authentication off.
type Authenticator struct {
	// Tokens, when set, admits calls with "authorization: Bearer <token>"
	// for a token in the set.
	Tokens *Tokens
	// ClientCerts admits calls over a connection whose client certificate
	// verified against the client CA (see ServerConfig).
	ClientCerts bool
	// OpenHealth lets health checks and server reflection in without
	// credentials.
	OpenHealth bool
}

// Enabled reports whether calls must authenticate.
func (a *Authenticator) Enabled() bool { return a != nil && (a.Tokens != nil || a.ClientCerts) }

// Open reports whether fullMethod is a health check or reflection call,
// the methods OpenHealth lets in.
func Open(fullMethod string) bool {
	for _, p := range []string{"/grpc.health.v1.Health/", "/grpc.reflection.v1.ServerReflection/",
		"/grpc.reflection.v1alpha.ServerReflection/", "/vector.Vector/HealthCheck"} {
		if strings.HasPrefix(fullMethod, p) {
			return true
		}
	}
	return false
}

// Authenticate returns ctx carrying the caller's tenant (see Tenant), or
// an UNAUTHENTICATED status whose message says what was wrong but never
// repeats the credential.
func (a *Authenticator) Authenticate(ctx context.Context, fullMethod string) (context.Context, error) {
	if !a.Enabled() || (a.OpenHealth && Open(fullMethod)) {
		return WithTenant(ctx, ""), nil
	}
	if a.Tokens != nil {
		if vals := metadata.ValueFromIncomingContext(ctx, "authorization"); len(vals) > 0 {
			tenant, err := a.token(vals)
			if err != nil {
				return nil, err
			}
			return WithTenant(ctx, tenant), nil
		}
	}
	if a.ClientCerts {
		if cert, ok := verifiedCert(ctx); ok {
			tenant, err := CertTenant(cert)
			if err != nil {
				return nil, status.Error(codes.Unauthenticated, err.Error())
			}
			return WithTenant(ctx, tenant), nil
		}
	}
	return nil, status.Error(codes.Unauthenticated, a.missing())
}

func (a *Authenticator) token(vals []string) (string, error) {
	if len(vals) != 1 {
		return "", status.Error(codes.Unauthenticated, "more than one authorization header")
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", status.Error(codes.Unauthenticated, `authorization header is not "Bearer <token>"`)
	}
	tenant, ok := a.Tokens.Lookup(strings.TrimSpace(tok))
	if !ok {
		return "", status.Error(codes.Unauthenticated, "bearer token not accepted")
	}
	return tenant, nil
}

func (a *Authenticator) missing() string {
	switch {
	case a.Tokens != nil && a.ClientCerts:
		return "credentials required: a client certificate or a bearer token"
	case a.Tokens != nil:
		return "credentials required: a bearer token (authorization: Bearer <token>)"
	default:
		return "credentials required: a client certificate signed by the server's client CA"
	}
}

// verifiedCert returns the leaf certificate of a client whose chain
// verified in the handshake.
func verifiedCert(ctx context.Context) (*x509.Certificate, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil, false
	}
	info, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil, false
	}
	return info.State.VerifiedChains[0][0], true
}
