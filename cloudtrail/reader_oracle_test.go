package cloudtrail

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seen is what one reader made of an input: its items (raw bytes or error
// reason, and position) and how it ended.
type seen struct {
	items []string
	end   string
}

func (s seen) String() string { return strings.Join(s.items, "\n") + "\nend: " + s.end }

// nexter is the Reader's one method, shared by the old reader.
type nexter interface{ Next() (Item, error) }

func readSeen(t testing.TB, rd nexter, limit int) seen {
	t.Helper()
	var s seen
	for n := 0; ; n++ {
		if n > limit {
			t.Fatalf("more than %d items: the reader must make progress", limit)
		}
		item, err := rd.Next()
		if err == io.EOF {
			s.end = "EOF"
			return s
		}
		if err != nil {
			s.end = fatalKind(err)
			return s
		}
		var re *RecordError
		switch {
		case item.Err == nil:
			s.items = append(s.items, item.Pos+" "+string(item.Raw))
		case errors.As(item.Err, &re):
			s.items = append(s.items, item.Pos+" error "+string(re.Reason))
		default:
			t.Fatalf("%s: item error %T is not a *RecordError", item.Pos, item.Err)
		}
	}
}

// fatalKind is a fatal error's message up to where the two readers may
// differ: the line the old one gave was where its buffer happened to end.
func fatalKind(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, " (near line"); i >= 0 {
		return msg[:i]
	}
	if strings.HasPrefix(msg, "cloudtrail: reading input") {
		return "cloudtrail: reading input"
	}
	return msg
}

// chunked returns at most n bytes a Read, so values straddle reads.
type chunked struct {
	r io.Reader
	n int
}

func (c *chunked) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// compareReaders checks that the byte scanner finds what the old
// token-walking reader found in data: the same items, raw bytes,
// positions and error reasons, ending the same way, however the input
// arrives.
func compareReaders(t testing.TB, data []byte, readSize int, opts Options) {
	t.Helper()
	limit := len(data) + 2
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		limit = 1 << 21
	}
	want := readSeen(t, newOldReader(bytes.NewReader(data), opts), limit)
	got := readSeen(t, NewReader(&chunked{bytes.NewReader(data), readSize}, opts), limit)
	if got.String() != want.String() {
		t.Fatalf("input %q, reads of %d bytes:\nbyte scanner:\n%s\n\nold reader:\n%s", data, readSize, got, want)
	}
}

var oracleInputs = []string{
	"",
	"   \n\t ",
	`{"eventID":"1"}`,
	"{\"eventID\":\"1\"}\n{\"eventID\":\"2\"}\n",
	`{"Records":[{"a":1},{"b":[1,2,{"c":null}]}]}`,
	`{"Records":[]}`,
	`{"x":{"Records":[1]},"Records":[{"a":1}],"y":[2],"Records":[{"b":2}]}`,
	`{"Records":"x"}`,
	`{"Records":{"Records":[1]}}`,
	`{"Rec\u006frds":[{"a":1}]}`,
	`{"records":[{"a":1}]}`,
	"[\n {\"a\":1},\n 2, \"s\", true, null, [3], {}\n]",
	"[]",
	"42\n\"s\"\ntrue false null -0.5e+3",
	"42x\n{\"a\":1}",
	"truex",
	"\"a\"\"b\"",
	"{\"a\":1}x\n{\"b\":2}",
	"{\"a\":1}}\n{\"b\":2}",
	"1e999\n{\"b\":2}",
	"not json\n{\"a\":\n{\"b\":2}\n{\"c\":3}\n",
	"{\"eventID\":",
	"{\"eventID\"",
	"{\"a\":1,}\n{}",
	"{,}\n{}",
	"{\"a\" 1}\n{}",
	"{\"a\":\"x\ny\"}\n{}",
	`{"a":"\u00e9\"\\\/\b\f\n\r\t"}`,
	`{"a":"\u00g0"}` + "\n{}",
	`{"a":"\x"}` + "\n{}",
	`[{"a":1},]`,
	`[{"a":1} {"b":2}]`,
	`[{"a":1}`,
	`[1,2`,
	`[-]`,
	`[01]`,
	`[1.]`,
	`[1e]`,
	`[1.5E+7, -0, 0.25e-3]`,
	`{"Records":[{"a":1}],"x":}`,
	`{"Records":[{"a":1}],"x":1`,
	`{"Records":[{"a":1}] "x":1}`,
	`{"Records":[{"a":1}],"Records":[{"b":1},]}`,
	`{"Records":[{"a":1}]}{"Records":[{"b":1}]}[{"c":1}]{"d":1}`,
	"{\"Records\":[{\"a\":\n1}]}\n[\n{\"b\":1}]",
	`[[[[[]]]],{"a":[{"b":[{}]}]}]`,
	"\x00\n{}",
	"{\"a\":nul}\n{}",
	"{\"a\":nulx}\n{}",
	"{\"a\":tru",
	"-",
	"\"abc",
	"{\"\xff\":\"\xfe\"}",
}

func TestReaderMatchesOldReader(t *testing.T) {
	for _, in := range oracleInputs {
		for _, size := range []int{1, 2, 3, 7, 64, 1 << 20} {
			compareReaders(t, []byte(in), size, Options{})
		}
		compareReaders(t, gzipped(t, in), 5, Options{})
		compareReaders(t, []byte(in), 3, Options{MaxRecordSize: 8})
	}
}

// TestReaderMatchesOldReaderOnTestdata runs both readers over every file
// in testdata, whole and with its newlines removed (one long line).
func TestReaderMatchesOldReaderOnTestdata(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json*"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range [][]byte{data, bytes.ReplaceAll(data, []byte("\n"), nil), []byte(`{"Records":[` + string(bytes.TrimSpace(data)) + `]}`)} {
			compareReaders(t, in, 1<<20, Options{})
			compareReaders(t, in, 13, Options{})
		}
	}
}

// A value larger than a read buffer is read whole, as are many values
// spread over several buffers.
func TestReaderLargeValues(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 3*chunkSize) + `"}`
	var many strings.Builder
	many.WriteString(`{"Records":[`)
	for i := range 5000 {
		if i > 0 {
			many.WriteString(",\n")
		}
		many.WriteString(`{"eventID":"` + strings.Repeat("e", i%300) + `"}`)
	}
	many.WriteString("]}")
	for _, in := range []string{big + "\n" + big, "[" + big + "," + big + "]", many.String()} {
		compareReaders(t, []byte(in), 1<<20, Options{MaxRecordSize: 4 * chunkSize})
		compareReaders(t, []byte(in), 4097, Options{MaxRecordSize: 4 * chunkSize})
		compareReaders(t, []byte(in), 1<<20, Options{MaxRecordSize: 100})
		// A byte a read: a value is scanned again only when a byte that
		// can end it arrives, so this stays linear.
		compareReaders(t, []byte(in), 1, Options{MaxRecordSize: 4 * chunkSize})
	}
}

// Items returned earlier keep their bytes while the reader reads on, and
// appending to one cannot overwrite the next.
func TestReaderItemsStay(t *testing.T) {
	var in strings.Builder
	for i := range 20000 {
		in.WriteString(`{"eventID":"` + strings.Repeat("x", i%97) + `"}` + "\n")
	}
	items, err := ReadAll(&chunked{strings.NewReader(in.String()), 1000}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = append(items[0].Raw, "overwrite"...)
	lines := strings.Split(strings.TrimSpace(in.String()), "\n")
	if len(items) != len(lines) {
		t.Fatalf("%d items for %d lines", len(items), len(lines))
	}
	for i, item := range items {
		if string(item.Raw) != lines[i] {
			t.Fatalf("item %d changed after it was returned: %q, want %q", i, item.Raw, lines[i])
		}
	}
}

func gzipped(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// FuzzReaderMatchesOldReader checks the byte scanner against the old
// token-walking reader on any input, read in pieces of any size, with a
// small record limit or the default.
func FuzzReaderMatchesOldReader(f *testing.F) {
	for _, in := range oracleInputs {
		f.Add([]byte(in), uint8(3), false)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json*"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint8(200), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, readSize uint8, small bool) {
		if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			t.Skip("gzip: the plain text is fuzzed directly")
		}
		opts := Options{}
		if small {
			opts.MaxRecordSize = 16
		}
		compareReaders(t, data, int(readSize)+1, opts)
	})
}
