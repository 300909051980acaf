package auth_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/iamsentry/iamsentry/internal/pkitest"
	"github.com/iamsentry/iamsentry/server/auth"
)

func hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func writeTokens(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTokensLookupAndReload(t *testing.T) {
	path := writeTokens(t, "tokens:\n  "+hash("alpha-secret")+": acme\n  "+strings.ToUpper(hash("beta-secret"))+": globex\n")
	tok, err := auth.LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	for token, want := range map[string]string{"alpha-secret": "acme", "beta-secret": "globex"} {
		if got, ok := tok.Lookup(token); !ok || got != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", token, got, ok, want)
		}
	}
	if got, ok := tok.Lookup(hash("alpha-secret")); ok {
		t.Errorf("the hash itself must not authenticate; got tenant %q", got)
	}
	if _, ok := tok.Lookup(""); ok {
		t.Error("the empty token authenticated")
	}
	// Rotation: the new file replaces the old set; a bad file keeps it.
	os.WriteFile(path, []byte("tokens:\n  "+hash("gamma")+": acme\n"), 0o600)
	if err := tok.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok := tok.Lookup("alpha-secret"); ok {
		t.Error("a token removed from the file still authenticates after Reload")
	}
	os.WriteFile(path, []byte("tokens: [oops"), 0o600)
	if err := tok.Reload(); err == nil {
		t.Error("Reload accepted a broken file")
	}
	if got, ok := tok.Lookup("gamma"); !ok || got != "acme" {
		t.Errorf("after a rejected reload the tokens in use must stay; Lookup(gamma) = %q, %v", got, ok)
	}
}

func TestTokensFileErrors(t *testing.T) {
	for name, tc := range map[string]struct{ body, want string }{
		"plain token as key": {"tokens:\n  my-plain-token: acme\n", "not a SHA-256 hash"},
		"bad tenant":         {"tokens:\n  " + hash("x") + ": \"a:b\"\n", `tenant "a:b"`},
		"unknown key":        {"tokenz: {}\n", "not a token file"},
		"empty":              {"tokens: {}\n", "no tokens"},
		"same hash twice":    {"tokens:\n  " + hash("x") + ": a\n  " + strings.ToUpper(hash("x")) + ": b\n", "appears twice"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := auth.LoadTokens(writeTokens(t, tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "my-plain-token") {
				t.Errorf("the error repeats what may be a plain token: %v", err)
			}
		})
	}
}

func TestCertTenant(t *testing.T) {
	u := func(s string) *url.URL { p, _ := url.Parse(s); return p }
	for name, tc := range map[string]struct {
		cert    x509.Certificate
		want    string
		wantErr bool
	}{
		"spiffe tenant wins over CN": {want: "acme", cert: x509.Certificate{Subject: pkix.Name{CommonName: "ignored"},
			URIs: []*url.URL{u("spiffe://example.org/other"), u("spiffe://example.org/iamsentry/tenant/acme")}}},
		"CN when no tenant URI": {want: "globex", cert: x509.Certificate{Subject: pkix.Name{CommonName: "globex"},
			URIs: []*url.URL{u("spiffe://example.org/ns/x")}}},
		"no name at all":      {wantErr: true},
		"invalid tenant name": {wantErr: true, cert: x509.Certificate{URIs: []*url.URL{u("spiffe://example.org/tenant/a%7Bb")}}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := auth.CertTenant(&tc.cert)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("CertTenant = %q, %v; want %q (error: %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestAuthenticateTokens(t *testing.T) {
	tok, err := auth.LoadTokens(writeTokens(t, "tokens:\n  "+hash("s3cret")+": acme\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := &auth.Authenticator{Tokens: tok, OpenHealth: true}
	call := func(method string, md ...string) (string, error) {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(md...))
		ctx, err := a.Authenticate(ctx, method)
		if err != nil {
			return "", err
		}
		return auth.Tenant(ctx), nil
	}
	const score = "/iamsentry.v1.DetectionService/ScoreBatch"
	if got, err := call(score, "authorization", "Bearer s3cret"); err != nil || got != "acme" {
		t.Errorf("good token: tenant %q, %v; want acme", got, err)
	}
	for name, md := range map[string][]string{
		"missing":      nil,
		"wrong token":  {"authorization", "Bearer nope"},
		"not bearer":   {"authorization", "Basic s3cret"},
		"two headers":  {"authorization", "Bearer s3cret", "authorization", "Bearer s3cret"},
		"empty bearer": {"authorization", "Bearer "},
	} {
		_, err := call(score, md...)
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: %v, want UNAUTHENTICATED", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the status repeats the token: %v", name, err)
		}
	}
	if got, err := call("/grpc.health.v1.Health/Check"); err != nil || got != "" {
		t.Errorf("open health: %q, %v; want the default tenant, no error", got, err)
	}
	a.OpenHealth = false
	if _, err := call("/grpc.health.v1.Health/Check"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("closed health without a token: %v, want UNAUTHENTICATED", err)
	}
	var off *auth.Authenticator
	ctx, err := off.Authenticate(context.Background(), score)
	if err != nil || auth.Tenant(ctx) != "" {
		t.Errorf("authentication off: tenant %q, %v; want the default tenant", auth.Tenant(ctx), err)
	}
}

// TestKeypairReloadsRotatedFiles rotates the served certificate on disk:
// the next handshake gets the new one, and a half-written rotation (key
// not matching) keeps the old one.
func TestKeypairReloadsRotatedFiles(t *testing.T) {
	ca := pkitest.NewCA(t, "rot")
	first, second := ca.Server("one"), ca.Server("two")
	live := pkitest.Pair{CertFile: filepath.Join(t.TempDir(), "tls.crt"), KeyFile: filepath.Join(t.TempDir(), "tls.key")}
	pkitest.Replace(t, live, first)
	kp, err := auth.NewKeypair(live.CertFile, live.KeyFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		t.Helper()
		c, err := kp.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.SerialNumber.String()
	}
	if got := served(); got != first.Serial.String() {
		t.Fatalf("serves serial %s, want %s", got, first.Serial)
	}
	pkitest.Replace(t, live, second)
	if got := served(); got != second.Serial.String() {
		t.Errorf("after rotation serves serial %s, want %s", got, second.Serial)
	}
	// Only the certificate of a third pair arrives: the pair does not
	// match, so the second stays in use.
	third := ca.Server("three")
	b, _ := os.ReadFile(third.CertFile)
	os.WriteFile(live.CertFile, b, 0o600)
	if got := served(); got != second.Serial.String() {
		t.Errorf("with a mismatched pair on disk serves %s, want the previous %s", got, second.Serial)
	}
	if _, err := auth.NewKeypair(live.CertFile, live.KeyFile, nil); err == nil {
		t.Error("NewKeypair accepted a mismatched pair")
	}
}

// TestClientCAReloads rotates the client CA bundle on disk: the next
// handshake verifies client certificates against the new bundle.
func TestClientCAReloads(t *testing.T) {
	serverCA, oldCA, newCA := pkitest.NewCA(t, "server"), pkitest.NewCA(t, "old"), pkitest.NewCA(t, "new")
	srvPair := serverCA.Server("iamsentry")
	bundle := filepath.Join(t.TempDir(), "client-ca.pem")
	copyFile := func(from string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		tmp := bundle + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, bundle); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(oldCA.File)
	cfg, err := auth.ServerConfig(auth.ServerFiles{CertFile: srvPair.CertFile, KeyFile: srvPair.KeyFile, ClientCAFile: bundle}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	pem, _ := os.ReadFile(serverCA.File)
	roots.AppendCertsFromPEM(pem)
	handshake := func(client pkitest.Pair) error {
		t.Helper()
		cert, err := tls.LoadX509KeyPair(client.CertFile, client.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		// Loopback TCP, not net.Pipe: a refusing server writes its alert
		// after the client (TLS 1.3) already finished, and only a buffered
		// connection lets that write complete.
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer lis.Close()
		srvErr := make(chan error, 1)
		go func() {
			s, err := lis.Accept()
			if err != nil {
				srvErr <- err
				return
			}
			defer s.Close()
			srvErr <- tls.Server(s, cfg).Handshake()
		}()
		c, err := net.Dial("tcp", lis.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cli := tls.Client(c, &tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{cert}})
		cliErr := cli.Handshake()
		if err := <-srvErr; err != nil {
			return err
		}
		return cliErr
	}
	oldClient, newClient := oldCA.Client("acme"), newCA.Client("acme")
	if err := handshake(oldClient); err != nil {
		t.Fatalf("client of the configured CA refused: %v", err)
	}
	if err := handshake(newClient); err == nil {
		t.Fatal("client of an unknown CA accepted")
	}
	copyFile(newCA.File)
	if err := handshake(newClient); err != nil {
		t.Errorf("after the bundle rotated, a client of the new CA is refused: %v", err)
	}
	if err := handshake(oldClient); err == nil {
		t.Error("after the bundle rotated, a client of the removed CA is still accepted")
	}
}
