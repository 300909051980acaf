package builtin

import (
	"strings"
	"testing"
)

// TestNameFilterHoldsItsNames: a filter lets every one of its names
// through, the empty one included, and rules out most others.
func TestNameFilterHoldsItsNames(t *testing.T) {
	names := []string{"StopLogging", "DeleteTrail", "", "A", strings.Repeat("x", 70), "PutEventSelectors"}
	f := newNameFilter(names...)
	for _, n := range names {
		if !f.mayHold(n) {
			t.Errorf("mayHold(%q) = false for one of the filter's names", n)
		}
	}
	var through int
	others := []string{"GetObject", "ListBuckets", "DescribeInstances", "AssumeRole", "GetCallerIdentity", "PutObject", "ConsoleLogin"}
	for _, n := range others {
		if f.mayHold(n) {
			through++
		}
	}
	if through > 2 {
		t.Errorf("%d of %d other names let through", through, len(others))
	}
}

// TestTamperFilterHoldsEveryJudgedCall: logging-tampering's filter lets
// through the name of every call it judges.
func TestTamperFilterHoldsEveryJudgedCall(t *testing.T) {
	for src, calls := range tamperCalls {
		for name := range calls {
			if !tamperNames.mayHold(name) {
				t.Errorf("tamperNames rules out %s %s", src, name)
			}
		}
	}
}
