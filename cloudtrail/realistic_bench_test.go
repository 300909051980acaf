package cloudtrail_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

// BenchmarkParseRealistic parses a month of a realistic account
// (internal/realcorpus at its default size, about 180k records of 150
// identities) in order, one record per op: the mix of identities,
// services and repeated values the string cache and the parser meet in
// production, which BenchmarkParse's handful of records cannot show.
func BenchmarkParseRealistic(b *testing.B) {
	recs := realisticMonth()
	size := 0
	for _, r := range recs {
		size += len(r)
	}
	b.SetBytes(int64(size / len(recs)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := cloudtrail.Parse(recs[i%len(recs)], cloudtrail.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
