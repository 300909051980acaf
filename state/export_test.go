package state

// IndexProbes is how many look-ups b's indexes by key and by window read
// have made since b was created (Reset keeps counting): the per-operation
// index work BenchmarkBatchIndexRealistic reports per event.
func (b *Batch) IndexProbes() int { return b.last.probes + b.reads.probes }

// BucketStartNanos is BucketStart in Unix nanoseconds, for tests holding
// the two equal.
var BucketStartNanos = bucketStartNanos
