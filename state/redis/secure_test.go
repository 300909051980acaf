package redis_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/pkitest"
	"github.com/iamsentry/iamsentry/internal/redistest"
	"github.com/iamsentry/iamsentry/state"
	redisstate "github.com/iamsentry/iamsentry/state/redis"
)

// openAndUse opens a store from setting and runs a batch through it.
func openAndUse(t *testing.T, setting string) error {
	t.Helper()
	opts, err := redisstate.ParseOptions(setting)
	if err != nil {
		t.Fatalf("ParseOptions(%q): %v", setting, err)
	}
	s, err := redisstate.New(context.Background(), opts)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var b state.Batch
	k := state.Key{Tenant: "t", Identity: "i", Name: "n"}
	put := b.Put(k, []byte("v"), time.Minute)
	got := b.Get(k)
	if err := s.Exec(ctx, &b); err != nil {
		return err
	}
	if _, err := put.Get(); err != nil {
		return err
	}
	v, err := got.Get()
	if err != nil {
		return err
	}
	if string(v) != "v" {
		t.Fatalf("read back %q", v)
	}
	return nil
}

// TestTLS connects over rediss:// to a real redis-server with TLS, then with
// mutual TLS; a client that does not trust the server's CA, or does not
// present a certificate where one is required, is refused.
func TestTLS(t *testing.T) {
	ca := pkitest.NewCA(t, "redis")
	srvPair := ca.Server("redis")
	_, addr := redistest.StartTLSServer(t, srvPair.CertFile, srvPair.KeyFile, "")
	good := "rediss://" + addr + "?tls_ca_file=" + url.QueryEscape(ca.File) + "&tls_server_name=localhost"
	if err := openAndUse(t, good); err != nil {
		t.Fatalf("TLS with the server's CA: %v", err)
	}
	other := pkitest.NewCA(t, "other")
	if err := openAndUse(t, "rediss://"+addr+"?tls_ca_file="+url.QueryEscape(other.File)+"&tls_server_name=localhost&dial_timeout=2s"); err == nil {
		t.Error("a client trusting another CA was not refused")
	} else if !errors.Is(err, state.ErrUnavailable) {
		t.Logf("refused with %v", err)
	}

	clientCA := pkitest.NewCA(t, "clients")
	_, mtlsAddr := redistest.StartTLSServer(t, srvPair.CertFile, srvPair.KeyFile, clientCA.File)
	client := clientCA.Client("iamsentry")
	mtls := "rediss://" + mtlsAddr + "?tls_ca_file=" + url.QueryEscape(ca.File) + "&tls_server_name=localhost" +
		"&tls_cert_file=" + url.QueryEscape(client.CertFile) + "&tls_key_file=" + url.QueryEscape(client.KeyFile)
	if err := openAndUse(t, mtls); err != nil {
		t.Fatalf("mutual TLS: %v", err)
	}
	if err := openAndUse(t, "rediss://"+mtlsAddr+"?tls_ca_file="+url.QueryEscape(ca.File)+"&tls_server_name=localhost&dial_timeout=2s"); err == nil {
		t.Error("a client without a certificate was accepted where one is required")
	}
}

// TestACLUser connects as an ACL user with a password, and is refused with
// a wrong one.
func TestACLUser(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	if err := srv.Client().Do(ctx, "ACL", "SETUSER", "scorer", "on", ">s3cret", "~*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	if err := openAndUse(t, "redis://scorer:s3cret@"+srv.Addr()); err != nil {
		t.Fatalf("ACL user with its password: %v", err)
	}
	// A wrong password must fail the batch (as unavailable: nothing was
	// done, retry once the setting is fixed) and say why, never pass empty
	// answers off as results; Ping, which readiness follows, fails too.
	err := openAndUse(t, "redis://scorer:wrong@"+srv.Addr()+"?dial_timeout=2s")
	if err == nil || !errors.Is(err, state.ErrUnavailable) || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("wrong password: err = %v, want unavailable naming WRONGPASS", err)
	}
	opts, _ := redisstate.ParseOptions("redis://scorer:wrong@" + srv.Addr())
	s, err := redisstate.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping succeeded with a wrong password")
	}
}

// TestSentinel reaches a real master through a real Sentinel with the
// setting's Sentinel form (?master_name=).
func TestSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server and a Sentinel")
	}
	master := redistest.StartServer(t)
	sentinel := redistest.StartSentinel(t, master, "main")
	if err := openAndUse(t, "redis://"+sentinel+"?master_name=main"); err != nil {
		t.Fatalf("through the Sentinel: %v", err)
	}
	// The write landed on the master the Sentinel names.
	if n, err := master.Client().DBSize(context.Background()).Result(); err != nil || n == 0 {
		t.Errorf("master holds %d keys (%v) after a write through the Sentinel", n, err)
	}
}
