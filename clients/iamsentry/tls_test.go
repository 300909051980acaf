package iamsentry_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iamsentry/iamsentry/clients/iamsentry"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/server/auth"
)

// pki is a throw-away certificate authority with one server and one client
// certificate, written as PEM files.
type pki struct {
	dir                                      string
	caFile, srvCert, srvKey, cliCert, cliKey string
	pool                                     *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "iamsentry test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", caDER)
	issue := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalECPrivateKey(key)
		return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "EC PRIVATE KEY", keyDER)
	}
	p.srvCert, p.srvKey = issue("iamsentry.test", 2, x509.ExtKeyUsageServerAuth)
	p.cliCert, p.cliKey = issue("shipper", 3, x509.ExtKeyUsageClientAuth)
	return p
}

func (p *pki) write(t *testing.T, name, kind string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startTLSServer starts the real server with mutual TLS and bearer tokens
// (token "good" for tenant "shipper"), as serve runs with --tls-cert,
// --tls-key, --tls-client-ca and --tokens.
func startTLSServer(t *testing.T, p *pki, token string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(token))
	tokFile := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(tokFile, []byte("tokens:\n  "+hex.EncodeToString(sum[:])+": shipper\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.LoadTokens(tokFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := auth.ServerConfig(auth.ServerFiles{CertFile: p.srvCert, KeyFile: p.srvKey, ClientCAFile: p.caFile}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, server.Options{TLS: cfg, Auth: &auth.Authenticator{Tokens: tokens, ClientCerts: true, OpenHealth: true}}).addr
}

func TestMutualTLSAndBearerToken(t *testing.T) {
	p := newPKI(t)
	addr := startTLSServer(t, p, "good")
	tlsOpt := iamsentry.WithTLS(iamsentry.TLS{CAFile: p.caFile, CertFile: p.cliCert, KeyFile: p.cliKey, ServerName: "iamsentry.test"})
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("good\n"), 0o600)
	c := dial(t, addr, tlsOpt, iamsentry.WithTokenFile(tokenFile))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vs, err := c.Score(ctx, records("tls", 3))
	if err != nil || len(vs) != 3 || vs[0].GetOutcome() != iamsentryv1.Outcome_OUTCOME_CLEAN {
		t.Fatalf("over mutual TLS with a good token: %v %v", vs, err)
	}
	// The token file is read again for each stream, so a rotated (here:
	// revoked) token takes effect, and UNAUTHENTICATED is not retried.
	os.WriteFile(tokenFile, []byte("stale"), 0o600)
	_, err = c.Score(ctx, records("tls", 3))
	if !hasCode(err, codes.Unauthenticated) {
		t.Errorf("with a bad token: %v, want UNAUTHENTICATED", err)
	}
	if iamsentry.IsRetryable(err) {
		t.Errorf("UNAUTHENTICATED must not be retryable: %v", err)
	}
	if ctx.Err() != nil {
		t.Errorf("a bad token was retried until the deadline")
	}
	for _, bad := range []iamsentry.TLS{
		{CAFile: filepath.Join(p.dir, "missing.pem")},
		{CAFile: p.caFile, CertFile: p.cliCert},
		{CAFile: p.srvKey},
	} {
		if _, err := iamsentry.Dial(addr, iamsentry.WithTLS(bad)); err == nil {
			t.Errorf("Dial accepted unusable TLS files %+v", bad)
		}
	}
}

func hasCode(err error, c codes.Code) bool {
	pe, ok := errors.AsType[*iamsentry.PartialError](err)
	if !ok {
		return status.Code(err) == c
	}
	for _, e := range pe.Errs {
		if st, ok := status.FromError(e); ok && st.Code() == c {
			return true
		}
	}
	return false
}

// TestClientOptionsAgainstRealServer: either credential alone is enough
// for a server that accepts both; neither is UNAUTHENTICATED, which the
// client does not retry.
func TestClientOptionsAgainstRealServer(t *testing.T) {
	p := newPKI(t)
	addr := startTLSServer(t, p, "good")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		opts []iamsentry.Option
		want codes.Code
	}{
		{"client certificate only", []iamsentry.Option{iamsentry.WithTLS(iamsentry.TLS{CAFile: p.caFile, CertFile: p.cliCert, KeyFile: p.cliKey, ServerName: "iamsentry.test"})}, codes.OK},
		{"bearer token only", []iamsentry.Option{iamsentry.WithTLS(iamsentry.TLS{CAFile: p.caFile, ServerName: "iamsentry.test"}), iamsentry.WithToken("good")}, codes.OK},
		{"neither", []iamsentry.Option{iamsentry.WithTLS(iamsentry.TLS{CAFile: p.caFile, ServerName: "iamsentry.test"})}, codes.Unauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr, tc.opts...)
			vs, err := c.Score(ctx, records("opt-"+tc.name, 2))
			switch {
			case tc.want == codes.OK && (err != nil || len(vs) != 2 || vs[1].GetOutcome() == iamsentryv1.Outcome_OUTCOME_UNSPECIFIED):
				t.Errorf("Score: %v %v, want two verdicts", vs, err)
			case tc.want != codes.OK && !hasCode(err, tc.want):
				t.Errorf("Score: %v, want %v", err, tc.want)
			case tc.want != codes.OK && iamsentry.IsRetryable(err):
				t.Errorf("%v must not be retryable", err)
			}
		})
	}
	if ctx.Err() != nil {
		t.Error("a call was retried until the deadline")
	}
}
