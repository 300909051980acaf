package cloudtrail_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
)

// BenchmarkParseRealistic parses a month of a realistic account
// (internal/realcorpus at its default size, about 180k records of 150
// identities) in order, one record per op: the mix of identities,
// services and repeated values the string cache and the parser meet in
// production, which BenchmarkParse's handful of records cannot show.
func BenchmarkParseRealistic(b *testing.B) {
	c := realcorpus.Generate(realcorpus.Options{Seed: 1})
	recs := make([][]byte, len(c.Records))
	size := 0
	for i, r := range c.Records {
		recs[i] = r.JSON
		size += len(r.JSON)
	}
	c = nil
	b.SetBytes(int64(size / len(recs)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := cloudtrail.Parse(recs[i%len(recs)], cloudtrail.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
