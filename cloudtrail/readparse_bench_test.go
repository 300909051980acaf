package cloudtrail_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpustest"
)

// readParseInputs is the realistic month (internal/realcorpus at its
// default size) as scan reads it: one JSON-lines file, and CloudTrail's
// S3 delivery files (gzip, one per hour), held in memory so the
// benchmark measures the reader and the parser, not the disk.
var readParseInputs = sync.OnceValues(func() (map[string][][]byte, int) {
	c := realcorpus.Generate(realcorpus.Options{Seed: 1})
	var lines bytes.Buffer
	for _, r := range c.Records {
		lines.Write(r.JSON)
		lines.WriteByte('\n')
	}
	dir, err := os.MkdirTemp("", "readparse")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	if _, err := realcorpus.WriteDeliveries(dir, c.Records, time.Hour); err != nil {
		panic(err)
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.json.gz"))
	if err != nil {
		panic(err)
	}
	var files [][]byte
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			panic(err)
		}
		files = append(files, data)
	}
	return map[string][][]byte{"jsonl": {lines.Bytes()}, "s3-gzip": files}, len(c.Records)
})

// BenchmarkReadParseRealistic is scan's path from bytes to Records
// without the engine: every input of the realistic month read with a
// Reader and each item parsed as scan parses it (NextInto, and ParseInto
// for an item the Reader did not parse), items released in batches
// of 512 as scan releases them once scored. One op is the whole month;
// the figures are per record: CPU-ns/record is the process's CPU time
// (GC included), which a loaded machine moves less than wall time.
func BenchmarkReadParseRealistic(b *testing.B) {
	inputs, records := readParseInputs()
	for _, shape := range []string{"jsonl", "s3-gzip"} {
		b.Run(shape, func(b *testing.B) {
			files := inputs[shape]
			var rec cloudtrail.Record
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			cpu0 := realcorpustest.CPUTime(b)
			n := 0
			for b.Loop() {
				for _, f := range files {
					n += readParse(b, f, &rec)
				}
			}
			cpu := realcorpustest.CPUTime(b) - cpu0
			runtime.ReadMemStats(&m1)
			if n != b.N*records {
				b.Fatalf("read %d records in %d months of %d", n, b.N, records)
			}
			per := func(v float64) float64 { return v / float64(n) }
			b.ReportMetric(per(float64(b.Elapsed().Nanoseconds())), "ns/record")
			b.ReportMetric(per(float64(cpu.Nanoseconds())), "CPU-ns/record")
			b.ReportMetric(per(float64(m1.TotalAlloc-m0.TotalAlloc)), "B/record")
			b.ReportMetric(per(float64(m1.Mallocs-m0.Mallocs)), "allocs/record")
			b.ReportMetric(0, "ns/op") // one op is a whole month
		})
	}
}

// readParse reads and parses one input and returns its records.
func readParse(b *testing.B, data []byte, rec *cloudtrail.Record) int {
	rd := cloudtrail.NewReader(bytes.NewReader(data), cloudtrail.Options{})
	defer rd.Release()
	n := 0
	for {
		item, parsed, err := rd.NextInto(rec)
		if err == io.EOF {
			return n
		}
		if err != nil || item.Err != nil {
			b.Fatal(err, item.Err)
		}
		if parsed {
			// scan's path: the Reader parsed it while finding its end.
		} else if err := cloudtrail.ParseInto(rec, item.Raw, cloudtrail.Options{}); err != nil {
			b.Fatal(err)
		}
		if n++; n%512 == 0 {
			rd.Release()
		}
	}
}
