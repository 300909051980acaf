package cli_test

import (
	"strings"
	"testing"
)

func TestScanStateBudget(t *testing.T) {
	in := writeFile(t, "in.json", `{"Records":[`+createRole+`]}`)
	for _, c := range []struct {
		budget, want string
	}{
		{"64MiB", "memory budget 64 MiB"},
		{"1073741824", "memory budget 1024 MiB"},
		{"0", "no memory budget"},
	} {
		code, _, stderr := runCLI(t, "", "scan", "--state-budget", c.budget, in)
		if code != 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("scan --state-budget %s: exit %d, stderr %q; want 0 and %q", c.budget, code, stderr, c.want)
		}
	}
	for _, bad := range []string{"-1", "1GB", "lots", "99999999999GiB"} {
		if code, _, _ := runCLI(t, "", "scan", "--state-budget", bad, in); code != 2 {
			t.Errorf("scan --state-budget %s: exit %d, want 2 (usage)", bad, code)
		}
	}
}
