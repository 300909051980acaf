package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitLog waits until the log holds want n times.
func waitLog(t *testing.T, log *lockedBuffer, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(log.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("log never said %q (%d times):\n%s", want, n, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// attachAdmin is a generated AttachUserPolicy(AdministratorAccess) record
// with the given event id.
func attachAdmin(id string) string {
	return fmt.Sprintf(`{"eventVersion":"1.09","eventID":%q,"eventTime":"2024-08-01T13:00:00Z","eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","recipientAccountId":"111122223333","sourceIPAddress":"203.0.113.10","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","userName":"alice"},"requestParameters":{"userName":"bob","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}`, id)
}

func TestServeReloadsConfigOnSIGHUP(t *testing.T) {
	skipShort(t)
	bin := iamsentryBin
	addr := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "iamsentry.yaml")
	write := func(doc string) {
		t.Helper()
		// Write beside and rename, as config management tools do, so the
		// server never reads a half-written file.
		tmp := cfg + ".tmp"
		if err := os.WriteFile(tmp, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cfg); err != nil {
			t.Fatal(err)
		}
	}
	write("detectors:\n  admin-policy-attached:\n    enabled: true\n")

	cmd := exec.Command(bin, "serve", "--listen", addr, "--admin-listen", "127.0.0.1:0", "--config", cfg, "--log-format", "json")
	log := &lockedBuffer{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitDial(t, addr)

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := iamsentryv1.NewDetectionServiceClient(conn)
	scoreOne := func(id string) *iamsentryv1.Verdict {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := client.ScoreBatch(ctx, &iamsentryv1.ScoreBatchRequest{Events: []*iamsentryv1.Event{
			{Record: &iamsentryv1.Event_Json{Json: []byte(attachAdmin(id))}},
		}})
		if err != nil {
			t.Fatalf("ScoreBatch: %v", err)
		}
		return resp.GetVerdicts()[0]
	}

	if v := scoreOne("reload-1"); v.GetOutcome() != iamsentryv1.Outcome_OUTCOME_ALERT {
		t.Fatalf("before reload: %v, want ALERT", v.GetOutcome())
	}

	// A good file: the suppression applies to the next request.
	write(`suppress:
  - detector: admin-policy-attached
    account: "111122223333"
    reason: "reload test"
`)
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, log, `"msg":"config reloaded"`, 1)
	v := scoreOne("reload-2")
	if v.GetOutcome() != iamsentryv1.Outcome_OUTCOME_SUPPRESSED || v.GetFindings()[0].GetSuppression().GetReason() != "reload test" {
		t.Fatalf("after a good reload: %v %v, want SUPPRESSED by \"reload test\"", v.GetOutcome(), v.GetFindings())
	}

	// A bad file: rejected with every error, and the running configuration
	// (with its suppression) stays.
	write("accounts: [\"12\"]\nsuppress:\n  - detector: nope\n    reason: x\n")
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, log, `"msg":"config reload rejected; the running configuration stays"`, 1)
	for _, want := range []string{"accounts[0]", "suppress[0].detector"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("rejection does not name %s:\n%s", want, log.String())
		}
	}
	if v := scoreOne("reload-3"); v.GetOutcome() != iamsentryv1.Outcome_OUTCOME_SUPPRESSED {
		t.Errorf("after a rejected reload: %v, want the old configuration (SUPPRESSED)", v.GetOutcome())
	}
	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("serve died on a bad reload: %v", err)
	}
}
