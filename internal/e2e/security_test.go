package e2e_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/pkitest"
)

// TestServeTLSAndTokensEndToEnd runs the real binary with TLS and bearer
// tokens, health closed, and drives it with the binary's own client
// commands: health and replay succeed with the token, fail without it or
// with a wrong one, and a token file replaced and reloaded with SIGHUP
// takes effect without a restart.
func TestServeTLSAndTokensEndToEnd(t *testing.T) {
	skipShort(t)
	bin := iamsentryBin
	dir := t.TempDir()
	ca := pkitest.NewCA(t, "e2e")
	pair := ca.Server("iamsentry")
	writeTokens := func(tenantByToken map[string]string) {
		t.Helper()
		var b strings.Builder
		b.WriteString("tokens:\n")
		for tok, tenant := range tenantByToken {
			sum := sha256.Sum256([]byte(tok))
			b.WriteString("  " + hex.EncodeToString(sum[:]) + ": " + tenant + "\n")
		}
		tmp := filepath.Join(dir, "tokens.yaml.tmp")
		if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "tokens.yaml")); err != nil {
			t.Fatal(err)
		}
	}
	tokenFile := func(name, token string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	oldToken := tokenFile("old.token", "e2e-old-token-0123456789abcdef")
	newToken := tokenFile("new.token", "e2e-new-token-fedcba9876543210")
	writeTokens(map[string]string{"e2e-old-token-0123456789abcdef": "acme"})

	addr := freeAddr(t)
	log := &lockedBuffer{}
	srv := exec.Command(bin, "serve", "--listen", addr, "--admin-listen", "127.0.0.1:0", "--log-format", "json",
		"--tls-cert", pair.CertFile, "--tls-key", pair.KeyFile, "--tokens", filepath.Join(dir, "tokens.yaml"),
		"--open-health=false")
	srv.Stderr = log
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	waitDial(t, addr)

	run := func(args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	tlsArgs := []string{"--addr", addr, "--tls-ca-file", ca.File}
	health := func(token string) (int, string) {
		args := append([]string{"health", "--timeout", "5s"}, tlsArgs...)
		if token != "" {
			args = append(args, "--token-file", token)
		}
		return run(args...)
	}
	records := filepath.Join(repoRoot, "server", "testdata")
	replay := func(token string) (int, string) {
		return run(append([]string{"replay", "--token-file", token}, append(tlsArgs, records)...)...)
	}

	if code, out := health(oldToken); code != 0 {
		t.Fatalf("health with the token: exit %d\n%s\n%s", code, out, log.String())
	}
	if code, out := health(""); code == 0 || !strings.Contains(out, "Unauthenticated") && !strings.Contains(out, "UNAUTHENTICATED") {
		t.Errorf("health without a token, health closed: exit %d, want a refusal naming UNAUTHENTICATED\n%s", code, out)
	}
	if code, out := replay(oldToken); code != 0 || !strings.Contains(out, "admin-policy-attached") {
		t.Errorf("replay with the token: exit %d\n%s", code, out)
	}
	if code, out := replay(newToken); code == 0 || !strings.Contains(strings.ToLower(out), "unauthenticated") {
		t.Errorf("replay with an unknown token: exit %d, want a refusal\n%s", code, out)
	}

	// Rotate: the new token replaces the old one on SIGHUP.
	writeTokens(map[string]string{"e2e-new-token-fedcba9876543210": "acme"})
	srv.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := health(newToken)
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new token never worked after SIGHUP\n%s", log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := health(oldToken); code == 0 {
		t.Error("the old token still works after it was removed and reloaded")
	}
	if strings.Contains(log.String(), "e2e-old-token") || strings.Contains(log.String(), "e2e-new-token") {
		t.Errorf("a token appears in the server log:\n%s", log.String())
	}
}
