package cloudtrail

import (
	"bytes"
	"strings"
	"testing"
)

// releasing is a Reader whose caller releases its items every batch
// items, and checks first that the items it held kept their bytes.
type releasing struct {
	*Reader
	t     testing.TB
	batch int
	held  []Item
	saved [][]byte
}

func (r *releasing) Next() (Item, error) {
	if len(r.held) >= r.batch {
		for i, it := range r.held {
			if !bytes.Equal(it.Raw, r.saved[i]) {
				r.t.Fatalf("%s changed before its release: %.80q, was %.80q", it.Pos, it.Raw, r.saved[i])
			}
		}
		r.held, r.saved = r.held[:0], r.saved[:0]
		r.Release()
	}
	it, err := r.Reader.Next()
	r.held, r.saved = append(r.held, it), append(r.saved, bytes.Clone(it.Raw))
	return it, err
}

// reusePad is enough JSON lines (four pooled chunks) that a Reader's
// buffers reach the pooled size and are read into again, before and
// after the fuzzed input.
var reusePad = func() string {
	var b strings.Builder
	for i := range 800 {
		b.WriteString(`{"eventID":"` + strings.Repeat("p", 1000+i%613) + `"}` + "\n")
	}
	return b.String()
}()

// FuzzReaderRelease checks that releasing items changes nothing a caller
// sees: items keep their bytes until released, and a Reader released
// every few items (or before every Next) returns what one never released
// returns, on any input between stretches long enough for
// buffers to be reused, read in pieces of any size.
func FuzzReaderRelease(f *testing.F) {
	for i, in := range oracleInputs {
		f.Add([]byte(in), uint8(200), uint8(i%4)) // releases every few items
		f.Add([]byte(in), uint8(i), uint8(150))   // items held over buffers' reuse
	}
	f.Fuzz(func(t *testing.T, data []byte, readSize, batch uint8) {
		if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			t.Skip("gzip: the plain text is fuzzed directly")
		}
		in := append(append([]byte(reusePad), data...), "\n"+reusePad...)
		limit := len(in) + 2
		want := readSeen(t, NewReader(bytes.NewReader(in), Options{}), limit)
		rd := NewReader(&chunked{bytes.NewReader(in), 1 + 64*int(readSize)}, Options{})
		got := readSeen(t, &releasing{Reader: rd, t: t, batch: 4 * int(batch)}, limit)
		if got.String() != want.String() {
			t.Fatalf("input %q, reads of %d bytes: released reader differs\nreleased:\n%.2000s\n\nnever released:\n%.2000s", data, 1+64*int(readSize), got, want)
		}
	})
}
