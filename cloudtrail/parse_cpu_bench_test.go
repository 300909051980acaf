package cloudtrail_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpustest"
)

// BenchmarkParseRealisticCPU is BenchmarkParseRealistic measured in CPU
// time of the process per record (GC included) as well as wall time: on
// a machine shared with other work, wall time swings with the load while
// CPU time mostly does not.
func BenchmarkParseRealisticCPU(b *testing.B) {
	recs := realisticMonth()
	var rec cloudtrail.Record
	b.ReportAllocs()
	cpu0 := realcorpustest.CPUTime(b)
	for i := 0; b.Loop(); i++ {
		if err := cloudtrail.ParseInto(&rec, recs[i%len(recs)], cloudtrail.Options{}); err != nil {
			b.Fatal(err)
		}
	}
	cpu := realcorpustest.CPUTime(b) - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "CPU-ns/record")
}

// realisticMonth is the JSON of internal/realcorpus's month at its
// default size, the input of the realistic parse benchmarks.
func realisticMonth() [][]byte {
	c := realcorpus.Generate(realcorpus.Options{Seed: 1})
	recs := make([][]byte, len(c.Records))
	for i, r := range c.Records {
		recs[i] = r.JSON
	}
	return recs
}
