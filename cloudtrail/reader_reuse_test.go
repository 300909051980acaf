package cloudtrail_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

// reuseInputs are a few megabytes of records, of varied sizes so records
// straddle buffer ends, in the containers the Reader accepts, plus a
// broken line the Reader reports and reads past.
func reuseInputs() map[string][]byte {
	var lines, env strings.Builder
	env.WriteString(`{"Records":[`)
	for i := range 3000 {
		rec := fmt.Sprintf(`{"eventID":"e-%d","eventName":"Get%d","pad":"%s"}`, i, i, strings.Repeat("x", (i*7919)%2500))
		lines.WriteString(rec + "\n")
		if i == 1500 {
			lines.WriteString("{\"broken\":\n")
		}
		if i > 0 {
			env.WriteByte(',')
		}
		env.WriteString(rec)
	}
	env.WriteString("]}")
	return map[string][]byte{
		"jsonl":     []byte(lines.String()),
		"envelope":  []byte(env.String()),
		"gzip":      gz(env.String()),
		"envelopes": []byte(env.String() + "\n" + env.String()),
	}
}

// TestReaderReleaseKeepsHeldItems reads with Release after every batch of
// items and checks that the items of a batch still hold their bytes when
// the batch is done, and that the items are those a Reader that is never
// released returns. Two readers run at once, as the released buffers are
// shared through one pool.
func TestReaderReleaseKeepsHeldItems(t *testing.T) {
	for name, in := range reuseInputs() {
		want, err := cloudtrail.ReadAll(bytes.NewReader(in), cloudtrail.Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, batch := range []int{1, 7, 512} {
			t.Run(fmt.Sprintf("%s/batch=%d", name, batch), func(t *testing.T) {
				t.Parallel()
				var wg sync.WaitGroup
				for range 2 {
					wg.Go(func() { readReleasing(t, iotest.HalfReader(bytes.NewReader(in)), batch, want) })
				}
				wg.Wait()
			})
		}
	}
}

// readReleasing reads r, releasing after every batch items, and compares
// each item with want when its batch is done.
func readReleasing(t *testing.T, r io.Reader, batch int, want []cloudtrail.Item) {
	rd := cloudtrail.NewReader(r, cloudtrail.Options{})
	var held []cloudtrail.Item
	n := 0
	check := func() {
		for _, it := range held {
			w := want[n]
			if it.Pos != w.Pos || !bytes.Equal(it.Raw, w.Raw) || (it.Err == nil) != (w.Err == nil) {
				t.Errorf("item %d (%s) changed before its release: got %.60q (err %v), want %.60q (err %v)", n, w.Pos, it.Raw, it.Err, w.Raw, w.Err)
			}
			n++
		}
		held = held[:0]
		rd.Release()
	}
	for {
		it, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if held = append(held, it); len(held) == batch {
			check()
		}
	}
	check()
	if n != len(want) {
		t.Errorf("read %d items, want %d", n, len(want))
	}
}

// TestReaderReleaseAfterEOF checks that a Reader released at its end
// still answers io.EOF.
func TestReaderReleaseAfterEOF(t *testing.T) {
	rd := cloudtrail.NewReader(strings.NewReader(rec1+"\n"+rec2), cloudtrail.Options{})
	for range 2 {
		if _, err := rd.Next(); err != nil {
			t.Fatal(err)
		}
		rd.Release()
	}
	for range 2 {
		if _, err := rd.Next(); err != io.EOF {
			t.Fatalf("after the end and a release: got %v, want io.EOF", err)
		}
		rd.Release()
	}
}

// TestReaderReleaseGzipFiles reads many small gzip files, as a scan of S3
// delivery files does, each Reader released at its end so the next takes
// its decompressor: every file reads as a fresh Reader reads it, a broken
// file among them included, on two goroutines sharing the pools.
func TestReaderReleaseGzipFiles(t *testing.T) {
	var files [][]byte
	for i := range 40 {
		var recs []string
		for j := range i%5 + 1 {
			recs = append(recs, fmt.Sprintf(`{"eventID":"f%d-%d"}`, i, j))
		}
		files = append(files, gz(`{"Records":[`+strings.Join(recs, ",")+`]}`))
	}
	broken := gz(`{"Records":[{"eventID":"cut"}]}`)
	files = append(files, broken[:len(broken)-6], append(gz(rec1), gz(rec2)...), []byte("not gzip\n"+rec1))
	type result struct {
		items string
		err   error
	}
	read := func(in []byte, release bool) result {
		rd := cloudtrail.NewReader(bytes.NewReader(in), cloudtrail.Options{})
		var res result
		for {
			it, err := rd.Next()
			if err != nil {
				if err != io.EOF {
					res.err = err
				}
				break
			}
			res.items += fmt.Sprintf("%s %s %v\n", it.Pos, it.Raw, it.Err)
		}
		if release {
			rd.Release()
		}
		return res
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for round := range 3 {
				for i, f := range files {
					got, want := read(f, true), read(f, false)
					if got.items != want.items || fmt.Sprint(got.err) != fmt.Sprint(want.err) {
						t.Errorf("round %d file %d: released readers read\n%s(err %v)\nwant\n%s(err %v)", round, i, got.items, got.err, want.items, want.err)
					}
				}
			}
		})
	}
	wg.Wait()
	if got := read(files[40], true); got.err == nil || !strings.Contains(got.err.Error(), "unexpected EOF") {
		t.Errorf("a truncated gzip file read after pooled ones: err %v, want unexpected EOF", got.err)
	}
}
