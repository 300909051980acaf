package server

import "testing"

// TestGatherTakesWhatIsWaiting pins the batching policy without a clock: a
// worker's batch is its first job plus every job already queued, up to the
// batch size, and with no linger it never waits for more.
func TestGatherTakesWhatIsWaiting(t *testing.T) {
	records := func(n int) [][]byte { return make([][]byte, n) }
	tests := []struct {
		name    string
		size    int
		first   int   // records in the job the worker took
		queued  []int // records in the jobs already waiting
		want    int   // jobs in the batch
		wantRec int   // records in the batch
	}{
		{"alone", 512, 1, nil, 1, 1},
		{"everything waiting", 512, 1, []int{1, 1, 3}, 4, 6},
		{"stops at the size", 10, 4, []int{4, 4, 4}, 3, 12},
		{"a first job over the size goes alone", 10, 20, []int{1}, 1, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &batcher{jobs: make(chan *job, len(tt.queued)), size: tt.size, linger: DefaultBatchLinger}
			for _, n := range tt.queued {
				b.jobs <- &job{records: records(n)}
			}
			batch := b.gather(&job{records: records(tt.first)})
			n := 0
			for _, j := range batch {
				n += len(j.records)
			}
			if len(batch) != tt.want || n != tt.wantRec {
				t.Errorf("batch of %d jobs, %d records; want %d jobs, %d records (a batch is the first job and what already waits, up to the size)",
					len(batch), n, tt.want, tt.wantRec)
			}
			if left := len(b.jobs); left != len(tt.queued)-(tt.want-1) {
				t.Errorf("%d jobs left queued, want %d (jobs past the size wait for the next batch)", left, len(tt.queued)-(tt.want-1))
			}
		})
	}
}
