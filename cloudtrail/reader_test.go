package cloudtrail_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

const (
	rec1 = `{"eventID":"1","eventName":"A"}`
	rec2 = `{"eventID":"2","eventName":"B"}`
)

// item is what a test expects of one Item: its raw JSON (compacted) or the
// reason of its error, and its position.
type item struct{ raw, pos, reason string }

func collect(t *testing.T, in []byte, opts cloudtrail.Options) ([]item, error) {
	t.Helper()
	items, err := cloudtrail.ReadAll(bytes.NewReader(in), opts)
	var got []item
	for _, it := range items {
		g := item{pos: it.Pos}
		var re *cloudtrail.RecordError
		switch {
		case errors.As(it.Err, &re):
			g.reason = string(re.Reason)
		case it.Err != nil:
			t.Fatalf("item errors must be *RecordError, got %T", it.Err)
		default:
			g.raw = string(it.Raw)
		}
		got = append(got, g)
	}
	return got, err
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestReaderShapes(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []item
	}{
		{"single record", []byte("\n  " + rec1 + "\n"), []item{{raw: rec1, pos: "line 2"}}},
		{"pretty single record", []byte("{\n \"eventID\": \"1\"\n}\n"), []item{{raw: "{\n \"eventID\": \"1\"\n}", pos: "line 1"}}},
		{"envelope", []byte(`{"Records":[` + rec1 + ",\n" + rec2 + `]}`),
			[]item{{raw: rec1, pos: "record 1 (line 1)"}, {raw: rec2, pos: "record 2 (line 2)"}}},
		{"envelope with other keys", []byte(`{"x":{"Records":[1]},"Records":[` + rec1 + `],"y":[2]}`),
			[]item{{raw: rec1, pos: "record 1 (line 1)"}}},
		{"empty envelope", []byte(`{"Records":[]}`), nil},
		{"concatenated envelopes", []byte(`{"Records":[` + rec1 + `]}` + "\n" + `{"Records":[` + rec2 + `]}`),
			[]item{{raw: rec1, pos: "record 1 (line 1)"}, {raw: rec2, pos: "record 1 (line 2)"}}},
		{"bare array", []byte("[\n " + rec1 + ",\n " + rec2 + "\n]"),
			[]item{{raw: rec1, pos: "record 1 (line 2)"}, {raw: rec2, pos: "record 2 (line 3)"}}},
		{"JSON lines with blank lines", []byte(rec1 + "\n\n" + rec2 + "\n"),
			[]item{{raw: rec1, pos: "line 1"}, {raw: rec2, pos: "line 3"}}},
		{"Records that is not an array is a record", []byte(`{"Records":"x"}`), []item{{raw: `{"Records":"x"}`, pos: "line 1"}}},
		{"scalars are passed on for Parse to reject", []byte("42\n\"s\""), []item{{raw: "42", pos: "line 1"}, {raw: `"s"`, pos: "line 2"}}},
		{"gzip envelope", gz(`{"Records":[` + rec1 + `]}`), []item{{raw: rec1, pos: "record 1 (line 1)"}}},
		{"gzip JSON lines", gz(rec1 + "\n" + rec2), []item{{raw: rec1, pos: "line 1"}, {raw: rec2, pos: "line 2"}}},
		{"broken JSON line is an item error, reading goes on", []byte(rec1 + "\nnot json\n{\"a\":\n" + rec2 + "\n"),
			[]item{{raw: rec1, pos: "line 1"}, {reason: "not_json", pos: "line 2"}, {reason: "not_json", pos: "line 3"}, {raw: rec2, pos: "line 4"}}},
		{"truncated last line", []byte(rec1 + "\n{\"eventID\":"), []item{{raw: rec1, pos: "line 1"}, {reason: "not_json", pos: "line 2"}}},
		{"empty input", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collect(t, tt.in, cloudtrail.Options{})
			if err != nil {
				t.Fatalf("no fatal error expected for a readable container: %v", err)
			}
			if !equalItems(got, tt.want) {
				t.Errorf("items must be the records in order:\n got  %+v\n want %+v", got, tt.want)
			}
		})
	}
}

func equalItems(a, b []item) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A broken line swallows the lines after it into one bad value; the
// Reader resumes at the line after the one where the bad value began, so
// the swallowed records are recovered.
func TestReaderBrokenLineSpansNext(t *testing.T) {
	got, err := collect(t, []byte("{\"a\":\n"+rec2+"\n"+rec1+"\n"), cloudtrail.Options{})
	want := []item{{reason: "not_json", pos: "line 1"}, {raw: rec2, pos: "line 2"}, {raw: rec1, pos: "line 3"}}
	if err != nil || !equalItems(got, want) {
		t.Errorf("reading must resume at the line after a broken value began:\n got  %+v %v\n want %+v", got, err, want)
	}
}

func TestReaderFatal(t *testing.T) {
	tests := []struct {
		name string
		in   io.Reader
		want string
	}{
		{"truncated envelope", strings.NewReader(`{"Records":[` + rec1 + `,{"eventID"`), "broken JSON array after record 1"},
		{"broken element", strings.NewReader(`[` + rec1 + `,]`), "broken JSON array after record 1"},
		{"truncated gzip", bytes.NewReader(gz(`{"Records":[` + rec1 + `]}`)[:20]), "reading input"},
		{"I/O error", io.MultiReader(strings.NewReader(rec1+"\n"), iotest.ErrReader(errors.New("disk gone"))), "disk gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := cloudtrail.NewReader(tt.in, cloudtrail.Options{})
			var err error
			for err == nil {
				_, err = rd.Next()
			}
			if err == io.EOF || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("a broken container must end with a fatal error containing %q, got %v", tt.want, err)
			}
			if _, again := rd.Next(); again != err {
				t.Errorf("the fatal error must be sticky: got %v then %v", err, again)
			}
		})
	}
}

func TestReaderTooLarge(t *testing.T) {
	big := `{"x":"` + strings.Repeat("a", 100) + `"}`
	opts := cloudtrail.Options{MaxRecordSize: 50}
	for _, in := range []string{big + "\n" + rec1, "[" + big + "," + rec1 + "]"} {
		got, err := collect(t, []byte(in), opts)
		if err != nil || len(got) != 2 || got[0].reason != "too_large" || got[1].raw != rec1 {
			t.Errorf("an oversize record must be an item error and reading go on: %+v %v", got, err)
		}
	}
}

func TestSplitBytes(t *testing.T) {
	items, err := cloudtrail.SplitBytes([]byte(`{"Records":[`+rec1+`,`+rec2+`]}`), cloudtrail.Options{})
	if err != nil || len(items) != 2 || string(items[1].Raw) != rec2 {
		t.Errorf("SplitBytes must split an envelope body: %+v %v", items, err)
	}
}

// The envelope is streamed: its first record comes out before the rest of
// the envelope has even been written.
func TestReaderStreamsEnvelope(t *testing.T) {
	pr, pw := io.Pipe()
	more := make(chan struct{})
	go func() {
		io.WriteString(pw, `{"Records":[`+rec1+`,`)
		<-more
		io.WriteString(pw, rec2+`]}`)
		pw.Close()
	}()
	rd := cloudtrail.NewReader(pr, cloudtrail.Options{})
	first, err := rd.Next()
	close(more)
	if err != nil || string(first.Raw) != rec1 {
		t.Fatalf("the first record must be returned before the envelope is complete: %q %v", first.Raw, err)
	}
	second, err := rd.Next()
	if err != nil || string(second.Raw) != rec2 {
		t.Fatalf("the second record must follow: %q %v", second.Raw, err)
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Fatalf("the end of the envelope must be io.EOF, got %v", err)
	}
}
