package engine

import (
	"fmt"
	"testing"
)

// TestOwnersFindTheFirstRecord checks the index against what a map by
// owner answered: each record's first index in the batch, repeated owners
// told apart from distinct ones, in a batch that fills the table to half
// and after a reset for a smaller batch.
func TestOwnersFindTheFirstRecord(t *testing.T) {
	var o owners
	for _, n := range []int{300, 7, 300} {
		o.reset(n)
		items := make([]item, 0, n)
		want := map[string]int{}
		for at := range n {
			owner := fmt.Sprintf("111122223333:id-%d:GetObject:%d", at%(n/3+1), at%5)
			items = append(items, item{owner: owner})
			first, ok := want[owner]
			if !ok {
				first = at
				want[owner] = at
			}
			if got := o.first(owner, len(items)-1, at, items); got != first {
				t.Fatalf("batch of %d: record %d (%s): first = %d, want %d", n, at, owner, got, first)
			}
		}
		if o.held() != len(want) {
			t.Errorf("batch of %d: %d owners held, want %d", n, o.held(), len(want))
		}
	}
}
