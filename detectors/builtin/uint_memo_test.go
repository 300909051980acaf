package builtin

import (
	"strconv"
	"sync"
	"testing"
)

// TestUintMemoIsFormatUint: the remembered rendering is the prefix and
// FormatUint's, for colliding slots, zero, the largest ASN and concurrent
// callers.
func TestUintMemoIsFormatUint(t *testing.T) {
	ns := []uint32{0, 1, 99, 100, 3320, 16509, 4294967295}
	for i := range 3000 {
		ns = append(ns, uint32(i*7919))
	}
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := range ns {
				n := ns[(i*(w+1))%len(ns)]
				if got, want := asnNames.get(n), "ASN "+strconv.FormatUint(uint64(n), 10); got != want {
					t.Errorf("asnNames.get(%d) = %q, want %q", n, got, want)
				}
				if got, want := asnNumbers.get(n), strconv.FormatUint(uint64(n), 10); got != want {
					t.Errorf("asnNumbers.get(%d) = %q, want %q", n, got, want)
				}
			}
		})
	}
	wg.Wait()
}
