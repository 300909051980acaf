package e2e_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	collectorlogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
)

// TestServeFindingsOut runs the binary with a file sink (OCSF) and a stdout
// sink (JSON lines), tails Watch with grpcurl as the notes show, and ships
// one record over OTLP/gRPC with gzip: the finding reaches all three.
func TestServeFindingsOut(t *testing.T) {
	skipShort(t)
	bin := iamsentryBin
	addr := freeAddr(t)
	dir := t.TempDir()
	ocsf := filepath.Join(dir, "findings.ocsf.jsonl")
	cfg := filepath.Join(dir, "iamsentry.yaml")
	doc := "sinks:\n  - type: stdout\n  - type: file\n    path: " + ocsf + "\n    format: ocsf\n    min_severity: HIGH\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--listen", addr, "--admin-listen", "127.0.0.1:0", "--config", cfg, "--log-format", "json")
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitDial(t, addr)
	waitLog(t, stderr, `"sinks":2`, 1)

	// grpcurl -v prints the response headers once Watch has subscribed.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	watch := exec.CommandContext(ctx, grpcurlPath, "-v", "-plaintext", "-d", `{"min_severity":"SEVERITY_HIGH"}`,
		addr, "iamsentry.v1.DetectionService/Watch")
	watchOut := &lockedBuffer{}
	watch.Stdout, watch.Stderr = watchOut, watchOut
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watch.Process.Kill(); watch.Wait() })
	waitLog(t, watchOut, "Response headers received", 1)

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := &collectorlogspb.ExportLogsServiceRequest{ResourceLogs: []*logspb.ResourceLogs{{ScopeLogs: []*logspb.ScopeLogs{{
		LogRecords: []*logspb.LogRecord{{Body: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: attachAdmin("e2e-otlp")}}}},
	}}}}}
	resp, err := collectorlogspb.NewLogsServiceClient(conn).Export(ctx, req, grpc.UseCompressor(gzip.Name))
	if err != nil || resp.GetPartialSuccess() != nil {
		t.Fatalf("OTLP export: %v, %v", resp, err)
	}

	waitLog(t, watchOut, `"eventId": "e2e-otlp"`, 1)
	waitLog(t, stdout, `"kind":"finding"`, 1)
	var line struct {
		Finding struct {
			EventID    string `json:"event_id"`
			DetectorID string `json:"detector_id"`
		} `json:"finding"`
	}
	if err := json.Unmarshal([]byte(strings.SplitN(stdout.String(), "\n", 2)[0]), &line); err != nil ||
		line.Finding.EventID != "e2e-otlp" || line.Finding.DetectorID != "admin-policy-attached" {
		t.Errorf("stdout sink line %q (%v)", stdout.String(), err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(ocsf)
		if strings.Contains(string(b), `"class_uid":2004`) && strings.Contains(string(b), `"uid":"admin-policy-attached:e2e-otlp"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OCSF file sink holds %q", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
