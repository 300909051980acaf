package cloudtrail_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

// sharedDataDir locates the shared corpus: $IAMSENTRY_SHARED_DATA, else
// ../shared/data next to the repository root.
func sharedDataDir(t testing.TB) string {
	dir := os.Getenv("IAMSENTRY_SHARED_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "data")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared CloudTrail corpus not found at %s (set IAMSENTRY_SHARED_DATA): %v", dir, err)
	}
	return dir
}

// tally counts what became of one file's items.
type tally struct {
	parsed   int
	rejected map[cloudtrail.Reason]int
	missing  map[string]int // missing_field rejections by field
}

func (c tally) String() string {
	reasons := make([]string, 0, len(c.rejected))
	for r, n := range c.rejected {
		reasons = append(reasons, fmt.Sprintf("%s=%d", r, n))
	}
	sort.Strings(reasons)
	return fmt.Sprintf("parsed=%d rejected{%s} missing%v", c.parsed, strings.Join(reasons, " "), c.missing)
}

// notCloudTrail names files in the corpus that are documentation or
// metadata, not CloudTrail, and are skipped on purpose.
var notCloudTrail = map[string]bool{"README.md": true, "ground_truth.json": true}

func TestSharedCorpus(t *testing.T) {
	root := sharedDataDir(t)
	byFile := map[string]tally{}
	total := tally{rejected: map[cloudtrail.Reason]int{}, missing: map[string]int{}}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if notCloudTrail[d.Name()] {
			t.Logf("%s: skipped, not CloudTrail", rel)
			return nil
		}
		c := readCorpusFile(t, path)
		byFile[rel] = c
		total.parsed += c.parsed
		for r, n := range c.rejected {
			total.rejected[r] += n
		}
		for f, n := range c.missing {
			total.missing[f] += n
		}
		t.Logf("%s: %v", rel, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("total over %d files: %v", len(byFile), total)
	checkCorpusFloors(t, byFile)
}

// readCorpusFile reads and parses every item of one file.
func readCorpusFile(t *testing.T, path string) tally {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	items, err := cloudtrail.ReadAll(f, cloudtrail.Options{})
	if err != nil {
		t.Errorf("%s: every corpus file must be a readable container: %v", path, err)
	}
	c := tally{rejected: map[cloudtrail.Reason]int{}, missing: map[string]int{}}
	for _, it := range items {
		err := it.Err
		if err == nil {
			_, err = cloudtrail.Parse(it.Raw, cloudtrail.Options{})
		}
		var re *cloudtrail.RecordError
		switch {
		case err == nil:
			c.parsed++
		case errors.As(err, &re) && re.Reason != "":
			c.rejected[re.Reason]++
			if re.Reason == cloudtrail.ReasonMissingField {
				c.missing[re.Field]++
			}
		default:
			t.Errorf("%s %s: a rejection must carry a reason, got %T %v", path, it.Pos, err, err)
		}
	}
	return c
}

func checkCorpusFloors(t *testing.T, byFile map[string]tally) {
	stratus := 0
	for name, c := range byFile {
		if strings.HasPrefix(name, "stratus-detonations"+string(filepath.Separator)) {
			stratus += c.parsed
		}
	}
	if stratus < 300 {
		t.Errorf("at least 300 Stratus detonation records must parse, got %d", stratus)
	}
	otrf := byFile[filepath.Join("otrf-cloud-breach-s3", "ec2_proxy_s3_exfiltration_2020-09-14011940.json")]
	if otrf.parsed != 0 || otrf.missing["eventTime"] != 103 {
		t.Errorf("all 103 OTRF records (only @timestamp) must be rejected as missing eventTime, got %v", otrf)
	}
}

// Every Panther rule-test line must parse exactly as its event does: the
// wrapper is transparent. Not all 475 events are valid CloudTrail (many
// omit eventID or use lower-case or missing key fields), so those are
// rejected for the event's own faults; Panther's zone-less
// "2006-01-02 15:04:05" times are read as UTC. The floor is 414, of which
// 10 hand-written events spell a key the parser reads in lower case
// (awsregion, principalid): CloudTrail never does, readers disagree on
// whether such a key counts, so they are rejected as ambiguous_key and
// counted apart.
func TestSharedCorpusPantherWrapper(t *testing.T) {
	path := filepath.Join(sharedDataDir(t), "panther-rule-tests", "panther_cloudtrail_tests.jsonl")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("Panther rule tests not in the shared corpus: %v", err)
	}
	items, err := cloudtrail.SplitBytes(data, cloudtrail.Options{})
	if err != nil || len(items) != 475 {
		t.Fatalf("the Panther file holds 475 JSON lines, got %d (%v)", len(items), err)
	}
	parsed, ambiguous := 0, 0
	for _, it := range items {
		var fixture struct{ Event json.RawMessage }
		if err := json.Unmarshal(it.Raw, &fixture); err != nil {
			t.Fatalf("%s: %v", it.Pos, err)
		}
		wrapped, werr := cloudtrail.Parse(it.Raw, cloudtrail.Options{})
		bare, berr := cloudtrail.Parse(fixture.Event, cloudtrail.Options{})
		if fmt.Sprint(werr) != fmt.Sprint(berr) || !reflect.DeepEqual(wrapped, bare) {
			t.Errorf("%s: the event wrapper must be transparent: wrapped (%v) vs bare (%v)", it.Pos, werr, berr)
		}
		if werr == nil {
			parsed++
		}
		if re, ok := errors.AsType[*cloudtrail.RecordError](werr); ok && re.Reason == cloudtrail.ReasonAmbiguousKey {
			ambiguous++
		}
	}
	t.Logf("Panther rule tests: %d of %d parse via the event wrapper, %d rejected as ambiguous_key", parsed, len(items), ambiguous)
	if parsed+ambiguous < 414 || ambiguous > 10 {
		t.Errorf("at least 414 Panther rule-test events are valid CloudTrail and must parse, at most 10 of them rejected as ambiguous_key: got %d parsed, %d ambiguous", parsed, ambiguous)
	}
}
