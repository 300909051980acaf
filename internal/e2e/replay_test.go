package e2e_test

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The replay tool, as a user runs it: the real binary streams a gzip S3
// delivery file and a directory to the real binary serving, prints the
// findings on stdout and the summary on stderr, and exits 0; aimed at
// nothing, it exits 1 and says how many records went unanswered.
func TestReplayAgainstServe(t *testing.T) {
	skipShort(t)
	bin := iamsentryBin
	addr := freeAddr(t)
	srv := exec.Command(bin, "serve", "--listen", addr, "--admin-listen", "127.0.0.1:0", "--log-format", "json")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	waitDial(t, addr)

	dir := t.TempDir()
	admin, err := os.ReadFile(filepath.Join(repoRoot, "server", "testdata", "attach_admin_user_policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"Records":[` + string(bytes.TrimSpace(admin)) + `]}`))
	zw.Close()
	os.WriteFile(filepath.Join(dir, "111122223333_CloudTrail_us-east-1_20240801T1300Z_x.json.gz"), gz.Bytes(), 0o600)
	other := filepath.Join(repoRoot, "cloudtrail", "testdata")

	cmd := exec.Command(bin, "replay", "--addr", addr, "--streams", "2", dir, other)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), `"detector_id":"admin-policy-attached"`) {
		t.Errorf("replay printed no admin-policy-attached finding:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "replayed ") || !strings.Contains(stderr.String(), " 0 unanswered") {
		t.Errorf("replay's summary is missing or records went unanswered:\n%s", stderr.String())
	}
	t.Logf("replay summary:\n%s", stderr.String())

	cmd = exec.Command(bin, "replay", "--addr", freeAddr(t), "--give-up", "500ms", dir)
	stderr.Reset()
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "1 unanswered") {
		t.Errorf("replay to nothing: %v, want exit status 1 and the record counted unanswered:\n%s", err, stderr.String())
	}
}
