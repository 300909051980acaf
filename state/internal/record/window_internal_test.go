package record

import (
	"fmt"
	"testing"
)

// BenchmarkAddWindow adds members again to windows of ARNs of one length
// sharing a prefix, as an identity's recon window gets them: the cost is
// finding the member among the window's, anywhere in it.
func BenchmarkAddWindow(b *testing.B) {
	for _, n := range []int{16, 256, 2048} {
		b.Run(fmt.Sprint("members=", n), func(b *testing.B) {
			members := make([]string, n)
			e := &entry{kind: kindWindow}
			for i := range members {
				members[i] = fmt.Sprintf("arn:aws:iam::123456789012:role/service-role-%06d", i)
				e.addWindow(members[i], int64(i))
			}
			at := int64(n)
			for b.Loop() {
				// A member seen before, anywhere in the window (a
				// multiplicative hash of at picks it).
				e.addWindow(members[uint64(at)*0x9e3779b97f4a7c15>>40%uint64(n)], at)
				at++
			}
		})
	}
}
