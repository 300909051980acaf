package cloudtrail

import (
	"math/rand/v2"
	"testing"
)

// runByTable is plainRun/asciiRun by the byte tables they stand for.
func runByTable(t *[256]bool, b []byte, i int) int {
	for i < len(b) && t[b[i]] {
		i++
	}
	return i
}

// TestSWARRuns checks that the word-at-a-time runs stop exactly where the
// byte tables say, for every byte value at every offset of a word, and
// for random strings mixing plain bytes, stops, and bytes whose
// subtraction borrows (0x00, 0x20, 0x21, 0x80, 0xff) around them.
func TestSWARRuns(t *testing.T) {
	check := func(b []byte, i int) {
		t.Helper()
		if got, want := plainRun(b, i), runByTable(&plain, b, i); got != want {
			t.Fatalf("plainRun(%q, %d) = %d, want %d", b, i, got, want)
		}
		if got, want := asciiRun(b, i), runByTable(&plainASCII, b, i); got != want {
			t.Fatalf("asciiRun(%q, %d) = %d, want %d", b, i, got, want)
		}
	}
	for c := range 256 {
		for pos := range 20 {
			b := []byte("abcdefghijklmnopqrstuvwxyz")
			b[pos] = byte(c)
			for i := range 3 {
				check(b, i)
				check(b[:pos+1], i)
			}
		}
	}
	tricky := []byte{0, 0x1f, 0x20, 0x21, '"', '\\', 0x5b, 0x5d, 0x7f, 0x80, 0x81, 0xa2, 0xdc, 0xff, 'a', 'Z'}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		b := make([]byte, rng.IntN(40))
		for k := range b {
			if rng.IntN(4) == 0 {
				b[k] = tricky[rng.IntN(len(tricky))]
			} else {
				b[k] = byte(0x20 + rng.IntN(0x60))
			}
		}
		check(b, rng.IntN(len(b)+1))
	}
}
