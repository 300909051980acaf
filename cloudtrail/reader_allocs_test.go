package cloudtrail_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/internal/allocstest"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
)

// repeating is an endless input: data, again and again, in reads of at
// most 64 KiB as a file gives them.
type repeating struct {
	data []byte
	off  int
}

func (r *repeating) Read(p []byte) (int, error) {
	p = p[:min(len(p), 64<<10)]
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

// TestReaderAllocationFloor holds scan's path from bytes to Records (a
// long-lived Reader, NextInto, ParseInto for what it declines, Release
// every 512 records as scan releases a scored batch) to its floor once
// warm: one allocation per record, the bytes a Record keeps (eventID and
// the raw request, response and additional data, in one), and the few
// strings the direct-mapped string cache loses to collisions (0.04 a
// record on this input). Buffers come back through Release, the decoder
// and its string cache stay with the Reader, so a second allocation per
// record, or one per few records, is a regression a scan's CPU profile
// would show as mallocgc and GC. (A cold month adds the strings met for
// the first time: 1.19 allocations per record over the realistic month,
// see BenchmarkReadParseRealistic.)
func TestReaderAllocationFloor(t *testing.T) {
	allocs := readAllocationFloor(t, (*cloudtrail.Reader).NextInto)
	// Collisions in the string cache and a buffer the pool lost to a
	// collection cost a few more.
	if limit := 1.1; allocs > limit {
		t.Errorf("allocation floor: %.3f allocations per record read and parsed, want at most %.1f (one per record and a few cache misses)", allocs, limit)
	}
}

// TestReaderAllocationFloorBorrowed holds NextIntoBorrowed, scan's path
// since, to its floor: the raw values stay in the Reader's buffers and
// event ids are written into shared blocks, so what is left is the
// string cache's misses and a block of ids per fifty-odd records.
func TestReaderAllocationFloorBorrowed(t *testing.T) {
	allocs := readAllocationFloor(t, (*cloudtrail.Reader).NextIntoBorrowed)
	if limit := 0.1; allocs > limit {
		t.Errorf("allocation floor: %.3f allocations per record read and parsed, want at most %.1f (no allocation of a record's own)", allocs, limit)
	}
}

// readAllocationFloor returns the allocations per record of reading and
// parsing with next once warm.
func readAllocationFloor(t *testing.T, next func(*cloudtrail.Reader, *cloudtrail.Record) (cloudtrail.Item, bool, error)) float64 {
	t.Helper()
	if testing.Short() {
		t.Skip("generates a corpus")
	}
	c := realcorpus.Generate(realcorpus.Options{Seed: 7, Days: 2, People: 10})
	var lines bytes.Buffer
	for _, r := range c.Records {
		lines.Write(r.JSON)
		lines.WriteByte('\n')
	}
	rd := cloudtrail.NewReader(&repeating{data: lines.Bytes()}, cloudtrail.Options{})
	defer rd.Release()
	var rec cloudtrail.Record
	read := 0
	readN := func(n int) {
		for range n {
			item, parsed, err := next(rd, &rec)
			if err != nil || item.Err != nil {
				t.Fatalf("record %d: %v %v", read, err, item.Err)
			}
			if !parsed {
				if err := cloudtrail.ParseInto(&rec, item.Raw, cloudtrail.Options{}); err != nil {
					t.Fatalf("record %d: %v", read, err)
				}
			}
			if read++; read%512 == 0 {
				rd.Release()
			}
		}
	}
	readN(2 * len(c.Records)) // warm: buffers, string cache, memos
	const perRun = 2048
	allocs := allocstest.Floor(5, func() { readN(perRun) }) / perRun
	t.Logf("%.3f allocations per record", allocs)
	return allocs
}

var _ io.Reader = (*repeating)(nil)
