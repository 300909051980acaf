package server_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
	"github.com/iamsentry/iamsentry/internal/pkitest"
	"github.com/iamsentry/iamsentry/server"
	"github.com/iamsentry/iamsentry/server/auth"
	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/memory"
)

// serveTCP serves a server with opts on a loopback TCP port (TLS needs a
// real transport) over store, and returns its address.
func serveTCP(t *testing.T, store state.Store, opts server.Options) string {
	t.Helper()
	addr, _ := serveEngine(t, store, engine.Options{}, opts)
	return addr
}

// serveEngine is serveTCP with engine options, returning the server too.
func serveEngine(t *testing.T, store state.Store, eopts engine.Options, opts server.Options) (string, *server.Server) {
	t.Helper()
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	if opts.ReadyInterval == 0 {
		opts.ReadyInterval = 20 * time.Millisecond
	}
	opts.GracePeriod = 100 * time.Millisecond
	srv := server.New(engine.New(reg, store, eopts), opts)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() { cancel(); <-done })
	return lis.Addr().String(), srv
}

// conn dials addr with creds (nil: plaintext).
func conn(t *testing.T, addr string, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	c, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func clientTLS(t *testing.T, caFile string, cert *pkitest.Pair) credentials.TransportCredentials {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "iamsentry.test"}
	cfg.RootCAs.AppendCertsFromPEM(pem)
	if cert != nil {
		kp, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		// Always present it, as a misconfigured or hostile client would,
		// even when the server asks for another CA.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &kp, nil }
	}
	return credentials.NewTLS(cfg)
}

func serverTLS(t *testing.T, srv pkitest.Pair, clientCA string, requireCert bool) *tls.Config {
	t.Helper()
	cfg, err := auth.ServerConfig(auth.ServerFiles{CertFile: srv.CertFile, KeyFile: srv.KeyFile, ClientCAFile: clientCA}, requireCert, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// scoreOne scores one clean record and returns the call's status code.
func scoreOne(ctx context.Context, c *grpc.ClientConn, opts ...grpc.CallOption) codes.Code {
	_, err := iamsentryv1.NewDetectionServiceClient(c).ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{
		Events: []*iamsentryv1.Event{jsonEvent([]byte(`{"eventVersion":"1.08","eventID":"sec-1","eventTime":"2024-08-01T10:00:00Z","eventName":"ListUsers","eventSource":"iam.amazonaws.com","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}}`))}}, opts...)
	return status.Code(err)
}

// healthCode polls health until it answers SERVING or fails with a code
// other than the NOT_SERVING of a server still starting.
func healthCode(t *testing.T, c *grpc.ClientConn) codes.Code {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := healthpb.NewHealthClient(c).Check(ctx, &healthpb.HealthCheckRequest{Service: server.ServiceName})
		cancel()
		if err != nil || resp.GetStatus() == healthpb.HealthCheckResponse_SERVING || time.Now().After(deadline) {
			return status.Code(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTLS(t *testing.T) {
	ca, other := pkitest.NewCA(t, "good"), pkitest.NewCA(t, "other")
	addr := serveTCP(t, memory.New(), server.Options{TLS: serverTLS(t, ca.Server("srv"), "", false)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got := scoreOne(ctx, conn(t, addr, clientTLS(t, ca.File, nil))); got != codes.OK {
		t.Errorf("client trusting the server's CA: %v, want OK", got)
	}
	if got := scoreOne(ctx, conn(t, addr, clientTLS(t, other.File, nil))); got != codes.Unavailable {
		t.Errorf("client trusting another CA: %v, want UNAVAILABLE (handshake fails)", got)
	}
	if got := scoreOne(ctx, conn(t, addr, nil)); got != codes.Unavailable {
		t.Errorf("plaintext client on the TLS port: %v, want UNAVAILABLE", got)
	}
}

func TestMutualTLS(t *testing.T) {
	ca, other := pkitest.NewCA(t, "clients"), pkitest.NewCA(t, "rogue")
	srvPair := ca.Server("srv")
	good := ca.Client("shipper", "spiffe://example.org/iamsentry/tenant/acme")
	rogue := other.Client("shipper", "spiffe://example.org/iamsentry/tenant/acme")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("open health", func(t *testing.T) {
		addr := serveTCP(t, memory.New(), server.Options{
			TLS: serverTLS(t, srvPair, ca.File, false), Auth: &auth.Authenticator{ClientCerts: true, OpenHealth: true}})
		if got := scoreOne(ctx, conn(t, addr, clientTLS(t, ca.File, &good))); got != codes.OK {
			t.Errorf("good client certificate: %v, want OK", got)
		}
		if got := scoreOne(ctx, conn(t, addr, clientTLS(t, ca.File, &rogue))); got != codes.Unavailable {
			t.Errorf("client certificate of another CA: %v, want UNAVAILABLE (handshake refused)", got)
		}
		noCert := conn(t, addr, clientTLS(t, ca.File, nil))
		if got := scoreOne(ctx, noCert); got != codes.Unauthenticated {
			t.Errorf("no client certificate: %v, want UNAUTHENTICATED", got)
		}
		if got := healthCode(t, noCert); got != codes.OK {
			t.Errorf("health without a client certificate under --open-health: %v, want SERVING", got)
		}
	})
	t.Run("closed health", func(t *testing.T) {
		addr := serveTCP(t, memory.New(), server.Options{
			TLS: serverTLS(t, srvPair, ca.File, true), Auth: &auth.Authenticator{ClientCerts: true}})
		if got := healthCode(t, conn(t, addr, clientTLS(t, ca.File, nil))); got != codes.Unavailable {
			t.Errorf("health without a client certificate, --open-health=false: %v, want UNAVAILABLE (handshake refused)", got)
		}
		if got := healthCode(t, conn(t, addr, clientTLS(t, ca.File, &good))); got != codes.OK {
			t.Errorf("health with a good client certificate: %v, want SERVING", got)
		}
	})
}

func tokenFile(t *testing.T, tokens map[string]string) string {
	t.Helper()
	body := "tokens:\n"
	for tok, tenant := range tokens {
		sum := sha256.Sum256([]byte(tok))
		body += "  " + hex.EncodeToString(sum[:]) + ": " + tenant + "\n"
	}
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadTokens(t *testing.T, tokens map[string]string) *auth.Tokens {
	t.Helper()
	tok, err := auth.LoadTokens(tokenFile(t, tokens))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func bearer(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func TestBearerTokens(t *testing.T) {
	tokens := loadTokens(t, map[string]string{"acme-token": "acme"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, open := range []bool{true, false} {
		addr := serveTCP(t, memory.New(), server.Options{Auth: &auth.Authenticator{Tokens: tokens, OpenHealth: open}})
		c := conn(t, addr, nil)
		if got := scoreOne(bearer(ctx, "acme-token"), c); got != codes.OK {
			t.Errorf("good token: %v, want OK", got)
		}
		if got := scoreOne(bearer(ctx, "guessed"), c); got != codes.Unauthenticated {
			t.Errorf("bad token: %v, want UNAUTHENTICATED", got)
		}
		if got := scoreOne(ctx, c); got != codes.Unauthenticated {
			t.Errorf("no token: %v, want UNAUTHENTICATED", got)
		}
		want := codes.Unauthenticated
		if open {
			want = codes.OK
		}
		if got := healthCode(t, c); got != want {
			t.Errorf("health without a token, open=%v: %v, want %v", open, got, want)
		}
	}
}

// TestTLSCertificateRotation replaces the served certificate files: new
// connections get the new certificate without a restart.
func TestTLSCertificateRotation(t *testing.T) {
	ca := pkitest.NewCA(t, "rotation")
	first, second := ca.Server("first"), ca.Server("second")
	dir := t.TempDir()
	live := pkitest.Pair{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key")}
	pkitest.Replace(t, live, first)
	addr := serveTCP(t, memory.New(), server.Options{TLS: serverTLS(t, live, "", false)})
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(ca.File)
	pool.AppendCertsFromPEM(pem)
	served := func() string {
		t.Helper()
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "iamsentry.test", NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	if got := served(); got != first.Serial.String() {
		t.Fatalf("serves %s, want %s", got, first.Serial)
	}
	pkitest.Replace(t, live, second)
	if got := served(); got != second.Serial.String() {
		t.Errorf("after rotation serves %s, want %s", got, second.Serial)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got := scoreOne(ctx, conn(t, addr, clientTLS(t, ca.File, nil))); got != codes.OK {
		t.Errorf("scoring over the rotated certificate: %v", got)
	}
}
