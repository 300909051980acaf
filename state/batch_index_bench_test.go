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
// Each pass resets the batch, so the storage of its operations is fresh.
func BenchmarkBatchQueue(b *testing.B) {
	benchmarkQueue(b, (*state.Batch).Reset, func(batch *state.Batch, key state.Key, at time.Time, span state.Span) {
		batch.WindowAdd(key, "m", at, span, time.Hour)
	})
}

// BenchmarkBatchQueueRecycled is BenchmarkBatchQueue as the engine
// queues: the batch recycled between passes (Batch.Recycle), and each
// operation queued as detectors.WindowAddRead does, after asking the
// key's last write.
func BenchmarkBatchQueueRecycled(b *testing.B) {
	benchmarkQueue(b, (*state.Batch).Recycle, func(batch *state.Batch, key state.Key, at time.Time, span state.Span) {
		if o, ok := batch.LastWrite(key).(*state.WindowAddReadOp); ok && o.Member == "" {
			return // never: every add here is of "m"; the look-up is what is measured
		}
		batch.WindowAddRead(key, "m", at, span, 8, time.Hour)
	})
}

// benchmarkQueue queues the realistic micro-batch (see BenchmarkBatchQueue)
// with empty before each pass and queue for each operation on an
// identity, and reports the time per operation queued.
func benchmarkQueue(b *testing.B, empty func(*state.Batch), queue func(*state.Batch, state.Key, time.Time, state.Span)) {
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
	value := []byte("v")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	span := state.Span{From: at.Add(-time.Hour), To: at}
	var batch state.Batch
	b.ReportAllocs()
	for b.Loop() {
		empty(&batch)
		for e := range events {
			id := ids[e%identities]
			batch.Claim(claims[e], value, time.Hour)
			for _, n := range names {
				queue(&batch, state.Key{Identity: id, Name: n}, at, span)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events*(1+len(names))), "ns/op-queued")
}
