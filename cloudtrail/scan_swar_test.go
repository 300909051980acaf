package cloudtrail

import (
	"math/rand/v2"
	"testing"

	"github.com/iamsentry/iamsentry/internal/racetest"
)

// runByTable is plainRun/asciiRun by the byte tables they stand for.
func runByTable(t *[256]bool, b []byte, i int) int {
	for i < len(b) && t[b[i]] {
		i++
	}
	return i
}

// checkRuns holds plainRun and asciiRun, and the vector runs where this
// machine has them and b[i:] is long enough, to the byte tables.
func checkRuns(t *testing.T, b []byte, i int) {
	t.Helper()
	type run struct {
		name string
		fn   func([]byte, int) int
	}
	plainRuns := []run{{"plainRun", plainRun}}
	asciiRuns := []run{{"asciiRun", asciiRun}}
	if simdRuns && len(b)-i >= simdBlock {
		plainRuns = append(plainRuns, run{"plainRunAVX2", func(b []byte, i int) int { return i + plainRunAVX2(&b[i], len(b)-i) }})
		asciiRuns = append(asciiRuns, run{"asciiRunAVX2", func(b []byte, i int) int { return i + asciiRunAVX2(&b[i], len(b)-i) }})
	}
	// The scanners choose a run themselves (scanString, scanQuoted):
	// where they stop is where the table's run stops.
	if stop := runByTable(&plain, b, i); stop == len(b) || b[stop] != '\\' {
		want := stop // the end of b, or a control character
		if stop < len(b) && b[stop] == '"' {
			want++
		}
		if end, _ := scanString(b, i, true); end != want {
			t.Fatalf("scanString(%q, %d) = %d, want %d", b, i, end, want)
		}
	}
	if i < len(b) {
		run := runByTable(&plainASCII, b, i+1)
		end, ascii, _ := scanQuoted(b, i)
		if wantASCII := run < len(b) && b[run] == '"'; ascii != wantASCII || ascii && end != run+1 {
			t.Fatalf("scanQuoted(%q, %d) = %d, %v; its run stops at %d", b, i, end, ascii, run)
		}
	}
	want := runByTable(&plain, b, i)
	for _, r := range plainRuns {
		if got := r.fn(b, i); got != want {
			t.Fatalf("%s(%q, %d) = %d, want %d", r.name, b, i, got, want)
		}
	}
	want = runByTable(&plainASCII, b, i)
	for _, r := range asciiRuns {
		if got := r.fn(b, i); got != want {
			t.Fatalf("%s(%q, %d) = %d, want %d", r.name, b, i, got, want)
		}
	}
}

// TestSWARRuns checks that the word-at-a-time and vector runs stop
// exactly where the byte tables say, for every byte value at every
// offset of a word and of a vector block (the first, a middle one, and
// the last block, which the vector runs read overlapping the one before),
// and for random strings mixing plain bytes, stops, and bytes whose
// subtraction borrows or whose sign flips (0x00, 0x20, 0x21, 0x7f, 0x80,
// 0xff) around them.
func TestSWARRuns(t *testing.T) {
	racetest.SkipLong(t)
	if !simdRuns {
		t.Log("no AVX2 on this machine: only the word-at-a-time runs are checked")
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:"
	long := []byte(alphabet + alphabet) // 132 bytes: four vector blocks and a tail
	for c := range 256 {
		for pos := range len(long) {
			b := append([]byte(nil), long...)
			b[pos] = byte(c)
			for _, i := range []int{0, 1, 2, 7, 31, 32, 33} {
				if i > pos {
					continue
				}
				checkRuns(t, b, i)
				checkRuns(t, b[:pos+1], i)
				checkRuns(t, b[:min(len(b), pos+1+i%5)], i)
			}
		}
	}
	tricky := []byte{0, 0x1f, 0x20, 0x21, '"', '\\', 0x5b, 0x5d, 0x7f, 0x80, 0x81, 0xa2, 0xdc, 0xff, 'a', 'Z'}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		b := make([]byte, rng.IntN(160))
		odds := 4 + rng.IntN(60) // from a stop every few bytes to one in a long run
		for k := range b {
			if rng.IntN(odds) == 0 {
				b[k] = tricky[rng.IntN(len(tricky))]
			} else {
				b[k] = byte(0x20 + rng.IntN(0x60))
			}
		}
		checkRuns(t, b, rng.IntN(len(b)+1))
	}
}

// FuzzStringRuns holds the runs to the byte tables on any bytes.
func FuzzStringRuns(f *testing.F) {
	f.Add([]byte(`"arn:aws:iam::123456789012:role/a-role-with-a-long-name/session\u00e9"`), 1)
	f.Add([]byte("0123456789abcdef0123456789abcdef\x80"), 3)
	f.Fuzz(func(t *testing.T, b []byte, i int) {
		if i < 0 || i > len(b) {
			return
		}
		checkRuns(t, b, i)
	})
}
