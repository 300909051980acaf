package state_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// BenchmarkBatchQueue measures queuing a micro-batch shaped like the
// realistic corpus's: per event a dedupe claim on a key of its own and six
// operations on its identity's keys, 145 identities, ARN-sized strings. It
// isolates the batch's index by key, which every queued operation pays.
func BenchmarkBatchQueue(b *testing.B) {
	const events, identities = 512, 145
	names := []string{"recon:calls", "novel:asn", "novel:region", "last:seen", "burst:deny", "first:seen"}
	ids := make([]string, identities)
	for i := range ids {
		ids[i] = fmt.Sprintf("arn:aws:sts::123456789012:assumed-role/Role%03d/session-%03d", i, i)
	}
	claims := make([]state.Key, events)
	for i := range claims {
		claims[i] = state.Key{Identity: fmt.Sprintf("evt:3c5f1a2e-8d4b-4f6a-9c1e-%012d", i), Name: "dedupe"}
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	span := state.Span{From: at.Add(-time.Hour), To: at}
	var batch state.Batch
	b.ReportAllocs()
	for b.Loop() {
		batch.Reset()
		for e := range events {
			id := ids[e%identities]
			batch.Claim(claims[e], []byte("v"), time.Hour)
			for _, n := range names {
				batch.WindowAdd(state.Key{Identity: id, Name: n}, "m", at, span, time.Hour)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events*(1+len(names))), "ns/op-queued")
}
