package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/internal/cli"
	"github.com/iamsentry/iamsentry/internal/trail/trailtest"
)

// s3Trail serves an organisation trail made of the repository's real
// CloudTrail test files from an S3-compatible server, and writes the same
// tree to disk.
func s3Trail(t *testing.T) (endpoint, dir string) {
	t.Helper()
	srv := trailtest.Start(t)
	objects, _ := trailtest.OrgTrail(t)
	srv.Put(t, "org-trail", objects)
	dir = t.TempDir()
	trailtest.WriteTree(t, dir, objects)
	return srv.Endpoint, dir
}

// summaryCounts is the summary's first count line ("scanned N records from M
// inputs: ...") without the input names.
func summaryLine(t *testing.T, stderr, prefix string) string {
	t.Helper()
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("no %q line in:\n%s", prefix, stderr)
	return ""
}

// TestScanS3MatchesDisk checks that scanning a trail in S3 gives exactly
// the findings and counts of scanning the same files on disk.
func TestScanS3MatchesDisk(t *testing.T) {
	endpoint, dir := s3Trail(t)
	code, diskOut, diskErr := runCLI(t, "", "scan", dir)
	if code != cli.ExitOK {
		t.Fatalf("scan of the tree on disk: exit %d\n%s", code, diskErr)
	}
	code, s3Out, s3Err := runCLI(t, "", "scan", "--s3-endpoint", endpoint, "s3://org-trail/")
	if code != cli.ExitOK {
		t.Fatalf("scan s3://: exit %d\n%s", code, s3Err)
	}
	if strings.Count(diskOut, "\n") < 5 {
		t.Fatalf("the tree raised only %d findings; the comparison would prove little:\n%s", strings.Count(diskOut, "\n"), diskOut)
	}
	// Finding lines name their story; which finding of a chain names it
	// depends on how concurrent streams interleave, not on where records
	// were read (engine/story), so story names are compared as present.
	if anyStory(s3Out) != anyStory(diskOut) {
		t.Errorf("findings differ\ndisk:\n%s\ns3:\n%s", diskOut, s3Out)
	}
	if d, s := summaryLine(t, diskErr, "scanned "), summaryLine(t, s3Err, "scanned "); d != s {
		t.Errorf("summaries differ:\ndisk: %s\ns3:   %s", d, s)
	}
	if !strings.Contains(s3Err, "objects (") {
		t.Errorf("no progress line for the S3 read:\n%s", s3Err)
	}

	// One account and a date range read that account's files of that day.
	code, _, errs := runCLI(t, "", "scan", "--s3-endpoint", endpoint, "--accounts", "111122223333", "--since", "2026-11-30", "--until", "2026-12-01", "s3://org-trail/")
	if code != cli.ExitOK {
		t.Fatalf("filtered scan: exit %d\n%s", code, errs)
	}
	want := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, "/111122223333/CloudTrail/") && strings.Contains(p, "/2026/11/30/") {
			want++
		}
		return nil
	})
	if line := summaryLine(t, errs, "scanned "); want == 0 || !strings.Contains(line, " from "+itoa(want)+" inputs") {
		t.Errorf("filtered scan read %q, want %d inputs", line, want)
	}
}

func TestScanS3Errors(t *testing.T) {
	endpoint, _ := s3Trail(t)
	for name, tt := range map[string]struct {
		args []string
		code int
		want string
	}{
		"bad url":             {[]string{"scan", "s3://A/x"}, cli.ExitError, "is not an S3 bucket name"},
		"missing bucket":      {[]string{"scan", "--s3-endpoint", endpoint, "s3://no-such-bucket/"}, cli.ExitError, "check the bucket name"},
		"since after until":   {[]string{"scan", "--since", "2026-12-01", "--until", "2026-11-01", "s3://org-trail/"}, cli.ExitUsage, "--since must be before --until"},
		"bad since":           {[]string{"scan", "--since", "yesterday", "s3://org-trail/"}, cli.ExitUsage, "--since: \"yesterday\" is not a time"},
		"since without s3":    {[]string{"scan", "--since", "2026-11-01", "-"}, cli.ExitUsage, "--since applies to s3:// inputs only"},
		"two checkpointed s3": {[]string{"scan", "--checkpoint", "x", "s3://a-b/", "s3://c-d/"}, cli.ExitUsage, "--checkpoint takes one s3:// input"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, errs := runCLI(t, "", tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, want %d and %q in:\n%s", code, tt.code, tt.want, errs)
			}
		})
	}
}

// TestReplayS3MatchesDisk replays the trail from S3 and from disk to two
// fresh servers: the same findings. With a checkpoint, an interrupted
// replay goes on where it stopped and the rerun sends nothing twice.
func TestReplayS3MatchesDisk(t *testing.T) {
	endpoint, dir := s3Trail(t)
	code, diskOut, errs := runCLI(t, "", "replay", "--addr", startServer(t), "--progress", "off", dir)
	if code != cli.ExitOK {
		t.Fatalf("replay of the tree on disk: exit %d\n%s", code, errs)
	}
	ckpt := filepath.Join(t.TempDir(), "replay.ckpt")
	addr := startServer(t)
	code, s3Out, errs := runCLI(t, "", "replay", "--addr", addr, "--progress", "off", "--s3-endpoint", endpoint, "--checkpoint", ckpt, "s3://org-trail/")
	if code != cli.ExitOK {
		t.Fatalf("replay s3://: exit %d\n%s", code, errs)
	}
	// Finding lines name their story; which finding of a chain names it
	// depends on how concurrent streams interleave, not on where records
	// were read (engine/story), so story names are compared as present.
	if anyStory(s3Out) != anyStory(diskOut) {
		t.Errorf("findings differ\ndisk:\n%s\ns3:\n%s", diskOut, s3Out)
	}
	// The checkpoint is at the end: a second run reads no object.
	code, again, errs := runCLI(t, "", "replay", "--addr", addr, "--progress", "off", "--s3-endpoint", endpoint, "--checkpoint", ckpt, "s3://org-trail/")
	if code != cli.ExitOK || again != "" || !strings.Contains(errs, ": 0 objects (") {
		t.Errorf("rerun after the end: exit %d, findings %q\n%s", code, again, errs)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// storyName is a story name in a finding line.
var storyName = regexp.MustCompile(`"story":"story-[0-9a-f]+"`)

// anyStory is out with every finding's story name replaced by one.
func anyStory(out string) string { return storyName.ReplaceAllString(out, `"story":"story-…"`) }
