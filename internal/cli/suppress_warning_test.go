package cli_test

import (
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/internal/cli"
)

// An expired suppress entry is valid, and said so: config validate and scan
// print a warning naming the entry.
func TestExpiredSuppressEntryWarns(t *testing.T) {
	cfg := writeFile(t, "expired.yaml", "suppress:\n  - principal: \"arn:aws:iam::*:role/migration\"\n    expires: 2020-03-01\n    reason: the 2020 migration\n")
	code, out, errs := runCLI(t, "", "config", "validate", cfg)
	if code != cli.ExitOK || !strings.Contains(out, "warning: suppress[0]: expired on 2020-03-01") {
		t.Errorf("config validate: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, _, errs = runCLI(t, "", "scan", "--config", cfg, "-")
	if code != cli.ExitOK || !strings.Contains(errs, "iamsentry scan: warning: suppress[0]: expired on 2020-03-01") {
		t.Errorf("scan: exit %d, stderr %q", code, errs)
	}
}
