package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/cli"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpustest"
)

// TestScanSameInEveryContainer scans one small realistic account (with
// attacks woven in) as JSON lines, as gzip S3 delivery files and as one
// envelope, in batches of the default size, of 7 records (so the
// Reader's buffers and decompressors are released and reused many times
// within a file and across files) and of one record, and requires the same
// findings, byte for byte, from every container and every batch size. (Stories are left out: they are printed
// after the batch that changed them, and files end batches.)
func TestScanSameInEveryContainer(t *testing.T) {
	dir := t.TempDir()
	c := realcorpus.Generate(realcorpus.Options{Seed: 3, Days: 9, People: 12})
	var lines, env bytes.Buffer
	env.WriteString(`{"Records":[`)
	for i, r := range c.Records {
		lines.Write(r.JSON)
		lines.WriteByte('\n')
		if i > 0 {
			env.WriteByte(',')
		}
		env.Write(r.JSON)
	}
	env.WriteString("]}")
	inputs := map[string]string{"jsonl": filepath.Join(dir, "all.jsonl"), "envelope": filepath.Join(dir, "all.json"), "s3-gzip": filepath.Join(dir, "s3")}
	write := func(path string, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(inputs["jsonl"], lines.Bytes())
	write(inputs["envelope"], env.Bytes())
	if err := os.Mkdir(inputs["s3-gzip"], 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := realcorpus.WriteDeliveries(inputs["s3-gzip"], c.Records, time.Hour); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	write(cfg, []byte(realcorpustest.Config(t)))

	// Batch sizes must not matter either: a pattern is judged on the records
	// it spans, not on which of them shared a micro-batch.
	var want, wantFrom string
	for _, batch := range []string{"512", "7", "1"} {
		for _, name := range []string{"jsonl", "envelope", "s3-gzip"} {
			var out, errOut bytes.Buffer
			args := []string{"scan", "--config", cfg, "--batch-size", batch, inputs[name]}
			if code := cli.Main(context.Background(), args, cli.Stdio{Out: &out, Err: &errOut}); code != cli.ExitOK {
				t.Fatalf("%s, batches of %s: exit %d: %s", name, batch, code, errOut.String())
			}
			from := name + " in batches of " + batch
			if want == "" {
				n := strings.Count(out.String(), `"detector_id"`)
				if n == 0 {
					t.Fatalf("%s: no findings in a corpus with %d attacks woven in: the comparison would prove nothing", from, len(c.Attacks))
				}
				t.Logf("%s: %d findings", from, n)
				want, wantFrom = out.String(), from
				continue
			}
			if out.String() != want {
				t.Errorf("%s: output differs from %s's:\n%.3000s\nwant\n%.3000s", from, wantFrom, out.String(), want)
			}
		}
	}
}
