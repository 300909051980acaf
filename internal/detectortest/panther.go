package detectortest

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
)

// PantherCase is one test of a Panther rule, in the JSON-lines shape of
// ../shared/data/panther-rule-tests (see its README for provenance):
// a real or hand-written CloudTrail record and whether Panther's rule fires
// on it. Expected says "matches Panther's rule", not "is an attack": a
// detector states per case where and why it intentionally differs.
type PantherCase struct {
	RuleID   string          `json:"rule_id"`
	RuleFile string          `json:"rule_file"`
	TestName string          `json:"test_name"`
	Expected bool            `json:"expected_result"`
	Event    json.RawMessage `json:"event"`
}

// PantherCases reads the cases in the JSON-lines file at path, keeping those
// of the given rule ids (all when none are given). It fails the test when the
// file cannot be read or a wanted rule has no case, so a trimmed copy cannot
// silently test nothing.
func PantherCases(t testing.TB, path string, ruleIDs ...string) []PantherCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("panther cases: %v", err)
	}
	defer f.Close()
	want := map[string]int{}
	for _, id := range ruleIDs {
		want[id] = 0
	}
	var out []PantherCase
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var c PantherCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s:%d: %v", path, line, err)
		}
		if n, ok := want[c.RuleID]; ok || len(ruleIDs) == 0 {
			want[c.RuleID] = n + 1
			out = append(out, c)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("panther cases: %v", err)
	}
	for id, n := range want {
		if n == 0 {
			t.Fatalf("%s has no case of rule %s", path, id)
		}
	}
	return out
}
