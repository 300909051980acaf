package record_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/internal/record"
)

// TestRewriteNamesNewVersion: a page rewritten whole gets a key of its
// own, and names the key of the version it replaces for deletion; a page
// changed a little takes a segment appended under its key; clean pages
// are not written again.
func TestRewriteNamesNewVersion(t *testing.T) {
	r := &record.Record{}
	fill(t, r, 400) // paged
	_, first := r.Encode([record.VersionSize]byte{1}, now)
	bySuffix := map[string]bool{}
	for _, s := range first {
		if s.Old != "" || s.Data == nil || !strings.Contains(s.Suffix, "v") {
			t.Fatalf("first write of %q: Old %q, %d bytes; want a versioned suffix, data, no Old", s.Suffix, s.Old, len(s.Data))
		}
		bySuffix[s.Suffix] = true
	}
	r.Apply(&state.PutOp{Key: key("v7"), Value: []byte("changed"), TTL: time.Hour}, now)
	_, second := r.Encode([record.VersionSize]byte{2}, now)
	if len(second) != 1 {
		t.Fatalf("one value changed: %d side records written, want its page only", len(second))
	}
	if s := second[0]; !s.Append || !bySuffix[s.Suffix] || s.Old != "" || len(s.Data) > 64 {
		t.Errorf("page changed by one value: %q (append %v, %d bytes) replacing %q; want a short segment appended to a key written before",
			s.Suffix, s.Append, len(s.Data), s.Old)
	}
	for i := range 400 { // more than half a page's worth of changes: every page rewritten
		r.Apply(&state.PutOp{Key: key(fmt.Sprint("v", i)), Value: []byte(strings.Repeat("x", 128)), TTL: time.Hour}, now)
	}
	_, third := r.Encode([record.VersionSize]byte{3}, now)
	replaced := map[string]bool{}
	for _, s := range third {
		// A page that split names its old key in one half.
		if s.Append || bySuffix[s.Suffix] || s.Data == nil || (s.Old != "" && !bySuffix[s.Old]) {
			t.Errorf("page rewritten whole: %q (append %v) replaces %q; want a new key replacing one written before", s.Suffix, s.Append, s.Old)
		}
		replaced[s.Old] = true
	}
	for suffix := range bySuffix {
		if !replaced[suffix] {
			t.Errorf("page %q not rewritten whole", suffix)
		}
	}
}

// TestUnversionedFormatsDecode: records of formats 1 and 2, whose side
// records' keys carry no version, still decode and name those keys.
func TestUnversionedFormatsDecode(t *testing.T) {
	for _, c := range []struct {
		n            int
		from, to     byte
		suffixPrefix string
	}{
		{400, 4, 2, "p"}, // a page directory
	} {
		r := &record.Record{}
		fill(t, r, c.n)
		main, _ := r.Encode([record.VersionSize]byte{1}, now)
		if main[record.VersionSize] != c.from {
			t.Fatalf("format %d, want %d", main[record.VersionSize], c.from)
		}
		main[record.VersionSize] = c.to
		got, err := record.Decode(main, now)
		if err != nil {
			t.Fatalf("format %d: %v", c.to, err)
		}
		needs := got.Needs([]state.Op{&state.GetOp{Key: key("v1")}}, now)
		if len(needs) != 1 || !strings.HasPrefix(needs[0].Suffix, c.suffixPrefix) || strings.Contains(needs[0].Suffix, "v") {
			t.Errorf("format %d needs %v, want one unversioned page key", c.to, fmt.Sprint(needs))
		}
	}
}
