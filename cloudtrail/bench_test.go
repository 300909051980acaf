package cloudtrail_test

import (
	"path/filepath"
	"testing"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

// BenchmarkParse parses a mix of real records (IAMUser, AssumedRole,
// AWSService, AWS Internal, zero-padded IP, null requestParameters, and a
// Panther-wrapped one) round-robin.
func BenchmarkParse(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	var recs [][]byte
	size := 0
	for _, name := range files {
		data := readTestdata(b, filepath.Base(name))
		recs = append(recs, data)
		size += len(data)
	}
	wrapped, err := cloudtrail.SplitBytes(readTestdata(b, "panther_wrapped.jsonl"), cloudtrail.Options{})
	if err != nil {
		b.Fatal(err)
	}
	recs = append(recs, wrapped[0].Raw)
	size += len(wrapped[0].Raw)
	b.SetBytes(int64(size / len(recs)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := cloudtrail.Parse(recs[i%len(recs)], cloudtrail.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
