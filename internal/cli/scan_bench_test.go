package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/cli"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpustest"
)

// BenchmarkScanRealistic runs `iamsentry scan` end to end (read, parse,
// detect, write findings to a file) over a month of a realistic account
// (internal/realcorpus at its default size: about 150 identities, 30 days,
// attacks woven in) with every built-in detector and GeoIP databases on,
// and reports events per CPU-second of the whole process, the figure a
// backtest's cost follows. Sub-benchmarks read the corpus as CloudTrail's
// S3 delivery files (gzip, one per hour) and as one JSON-lines file.
func BenchmarkScanRealistic(b *testing.B) {
	dir := b.TempDir()
	c := realcorpus.Generate(realcorpus.Options{Seed: 1})
	events := len(c.Records)
	deliveries := filepath.Join(dir, "s3")
	if err := os.Mkdir(deliveries, 0o755); err != nil {
		b.Fatal(err)
	}
	if _, err := realcorpus.WriteDeliveries(deliveries, c.Records, time.Hour); err != nil {
		b.Fatal(err)
	}
	var lines bytes.Buffer
	for _, r := range c.Records {
		lines.Write(r.JSON)
		lines.WriteByte('\n')
	}
	jsonl := filepath.Join(dir, "corpus.jsonl")
	if err := os.WriteFile(jsonl, lines.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	attacks := len(c.Attacks)
	c, lines = nil, bytes.Buffer{} // the scan holds none of it, as a real one would not
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(realcorpustest.Config(b)), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, in := range []struct{ name, path string }{{"s3-gzip", deliveries}, {"jsonl", jsonl}} {
		b.Run(in.name, func(b *testing.B) {
			out := filepath.Join(dir, "findings.jsonl")
			runtime.GC()
			cpu0 := realcorpustest.CPUTime(b)
			for b.Loop() {
				scanOnce(b, cfg, in.path, out)
			}
			cpu := realcorpustest.CPUTime(b) - cpu0
			n := float64(events * b.N)
			b.ReportMetric(n/cpu.Seconds(), "events/CPU-s")
			b.ReportMetric(n/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(0, "ns/op") // one op is a whole month: meaningless
			if found := countLines(b, out); found < attacks {
				b.Fatalf("%d findings for %d attacks woven in: the scan did not detect", found, attacks)
			} else {
				b.Logf("%d events, %d findings, %d attacks woven in", events, found, attacks)
			}
		})
	}
}

// scanOnce runs scan over path with the configuration cfg, findings to out.
func scanOnce(b *testing.B, cfg, path, out string) {
	f, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	var stderr bytes.Buffer
	if code := cli.Main(context.Background(), []string{"scan", "--config", cfg, path}, cli.Stdio{Out: w, Err: &stderr}); code != cli.ExitOK {
		b.Fatalf("scan exited %d: %s", code, stderr.String())
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

func countLines(b *testing.B, path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return bytes.Count(data, []byte{'\n'})
}
