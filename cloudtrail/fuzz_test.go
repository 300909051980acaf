package cloudtrail_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

// addSeeds adds every testdata record, and a few wrapper and container
// shapes, so the fuzz targets start from real CloudTrail.
func addSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json*"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(line) > 0 && line[0] == '{' {
				f.Add(line)
			}
		}
	}
	f.Add([]byte(`{"detail-type":"AWS API Call via CloudTrail","detail":{` + minimal + `}}`))
	f.Add([]byte(`{"Records":[{` + minimal + `},{` + minimal + `}]}`))
	f.Add([]byte("{" + minimal + "}\nnot json\n[{" + minimal + "}]"))
	f.Add(gz(`{"Records":[{` + minimal + `}]}`))
}

// FuzzParse checks that Parse never changes what it keeps: every accepted
// record's key fields equal the raw JSON values (read independently into a
// map, exact keys, after the same one-level unwrapping), and every
// rejection has a reason.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := cloudtrail.Parse(data, cloudtrail.Options{})
		if err != nil {
			var re *cloudtrail.RecordError
			if !errors.As(err, &re) || re.Reason == "" || re.Detail == "" {
				t.Fatalf("a rejection must be a *RecordError with a reason and detail, got %T %v", err, err)
			}
			return
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil || m == nil {
			t.Fatalf("Parse accepted input that is not a JSON object: %v", err)
		}
		m = unwrapRef(m)
		// Parse rejects duplicate and case-variant keys, so the map, where
		// the last of duplicates wins, holds exactly what Parse read.
		ui, _ := m["userIdentity"].(map[string]any)
		checkField(t, "eventID", rec.EventID, m["eventID"])
		checkField(t, "eventName", rec.EventName, m["eventName"])
		checkField(t, "eventSource", rec.EventSource, m["eventSource"])
		checkField(t, "sourceIPAddress", rec.SourceIPAddress, m["sourceIPAddress"])
		checkField(t, "userIdentity.arn", rec.UserIdentity.ARN, ui["arn"])
		checkField(t, "userIdentity.accessKeyId", rec.UserIdentity.AccessKeyID, ui["accessKeyId"])
		raw, _ := m["eventTime"].(string)
		want, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil { // the zone-less SQL export shape, read as UTC
			want, err = time.Parse("2006-01-02 15:04:05.999999999", raw)
		}
		if err != nil || !rec.EventTime.Equal(want) || rec.EventTime.Location() != time.UTC {
			t.Errorf("EventTime %v must be eventTime %q in UTC (%v)", rec.EventTime, raw, err)
		}
		if rec.SourceIsIP() != rec.SourceIP.IsValid() {
			t.Errorf("SourceIsIP must agree with SourceIP")
		}
	})
}

// unwrapRef applies Parse's documented wrapper rule to a generic decoding.
func unwrapRef(m map[string]any) map[string]any {
	if name, _ := m["eventName"].(string); name != "" {
		return m
	}
	if detail, ok := m["detail"].(map[string]any); ok && m["detail-type"] == "AWS API Call via CloudTrail" {
		return detail
	}
	if event, ok := m["event"].(map[string]any); ok {
		return event
	}
	return m
}

func checkField(t *testing.T, name, got string, raw any) {
	t.Helper()
	want, _ := raw.(string)
	if got != want {
		t.Errorf("%s must be kept unchanged: got %q, raw %q", name, got, want)
	}
}

// FuzzReader checks that Next terminates, never returns more bytes than
// the (decompressed) input holds, returns valid JSON for items without an
// error, and gives every item error a reason.
func FuzzReader(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		size, ok := plainSize(data)
		if !ok {
			t.Skip("gzip bomb or unreadable gzip: size unknown")
		}
		rd := cloudtrail.NewReader(bytes.NewReader(data), cloudtrail.Options{})
		total, n := 0, 0
		for ; ; n++ {
			if n > size+1 {
				t.Fatalf("Next returned %d items from %d bytes: it must make progress", n, size)
			}
			item, err := rd.Next()
			if err != nil {
				break
			}
			total += len(item.Raw)
			checkItem(t, item)
		}
		if total > size {
			t.Fatalf("items hold %d bytes, more than the %d-byte input", total, size)
		}
	})
}

func checkItem(t *testing.T, item cloudtrail.Item) {
	t.Helper()
	var re *cloudtrail.RecordError
	switch {
	case item.Err == nil && !json.Valid(item.Raw):
		t.Fatalf("%s: an item without error must be valid JSON: %q", item.Pos, item.Raw)
	case item.Err != nil && (!errors.As(item.Err, &re) || re.Reason == ""):
		t.Fatalf("%s: an item error must be a *RecordError with a reason: %v", item.Pos, item.Err)
	case item.Pos == "":
		t.Fatalf("every item must say where it was found")
	}
}

// plainSize is the input's size after gunzip, if it is gzip.
func plainSize(data []byte) (int, bool) {
	if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		return len(data), true
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, true // the Reader fails on the header too, returning nothing
	}
	n, err := io.Copy(io.Discard, io.LimitReader(zr, 1<<20))
	if n == 1<<20 {
		return 0, false
	}
	_ = err // a truncated stream still bounds what the Reader can return
	return int(n), true
}
