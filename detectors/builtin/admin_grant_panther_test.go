package builtin_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// TestAdminGrantPantherScenario runs Panther's compromised-root-creds
// attacker records (real shapes, see testdata/panther/README.md): root
// creates tracy_stone and, within minutes, attaches AmazonEC2FullAccess,
// IAMFullAccess and AmazonS3FullAccess. IAMFullAccess to a new user is
// CRITICAL in file order and in reverse order; the other two are not
// admin-equivalent and stay quiet.
func TestAdminGrantPantherScenario(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "panther", "compromised-root-creds__attacker_cloudtrail.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	for name, order := range map[string][][]byte{"file order": lines, "reversed": reversed(lines)} {
		t.Run(name, func(t *testing.T) {
			h := dt.New(t, newAdminDetector())
			var fs []detectors.Finding
			for _, l := range order {
				fs = append(fs, dt.Only(builtin.AdminPolicyAttachedID, h.ScoreRaw(l))...)
			}
			var crit []detectors.Finding
			for _, f := range fs {
				if f.Evidence["policy_arn"] != "" && f.Evidence["policy_arn"] != "arn:aws:iam::aws:policy/IAMFullAccess" {
					t.Errorf("%s is not admin-equivalent, got %v: %s", f.Evidence["policy_arn"], f.Severity, f.Explanation)
				}
				if f.Severity == detectors.SeverityCritical {
					crit = append(crit, f)
				}
			}
			if len(crit) != 1 || crit[0].Evidence["target_name"] != "tracy_stone" {
				t.Fatalf("want one CRITICAL for tracy_stone, got %d of %d findings", len(crit), len(fs))
			}
		})
	}
}

func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}
