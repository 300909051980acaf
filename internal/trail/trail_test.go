package trail_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/iamsentry/iamsentry/internal/trail"
	"github.com/iamsentry/iamsentry/internal/trail/trailtest"
)

// countingAPI records the prefixes listed and the objects fetched.
type countingAPI struct {
	trail.API
	mu     sync.Mutex
	listed []string
	got    []string
}

func (c *countingAPI) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	c.mu.Lock()
	c.listed = append(c.listed, aws.ToString(in.Prefix))
	c.mu.Unlock()
	return c.API.ListObjectsV2(ctx, in, opts...)
}

func (c *countingAPI) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.mu.Lock()
	c.got = append(c.got, aws.ToString(in.Key))
	c.mu.Unlock()
	return c.API.GetObject(ctx, in, opts...)
}

func setup(t *testing.T) (*countingAPI, map[string][]byte, []string) {
	t.Helper()
	srv := trailtest.Start(t)
	objects, keys := trailtest.OrgTrail(t)
	srv.Put(t, "trail-bucket", objects)
	client, err := trail.NewClient(context.Background(), trail.ClientOptions{Endpoint: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	return &countingAPI{API: client}, objects, keys
}

func walk(t *testing.T, api trail.API, url string, f trail.Filter, after string) []string {
	t.Helper()
	loc, err := trail.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := trail.Walk(context.Background(), api, loc, f, after, func(o trail.Object) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestWalk(t *testing.T) {
	api, _, all := setup(t)
	day := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	only := func(pred func(string) bool) []string {
		var out []string
		for _, k := range all {
			if pred(k) {
				out = append(out, k)
			}
		}
		return out
	}
	cases := []struct {
		name   string
		url    string
		filter trail.Filter
		want   []string
	}{
		{"whole bucket: records only, in key order", "s3://trail-bucket", trail.Filter{}, all},
		{"organisation folder", "s3://trail-bucket/AWSLogs/" + trailtest.Org + "/", trail.Filter{}, all},
		{"one account by prefix", "s3://trail-bucket/AWSLogs/" + trailtest.Org + "/444455556666/", trail.Filter{},
			only(func(k string) bool { return strings.Contains(k, "/444455556666/") })},
		{"one account by filter", "s3://trail-bucket/", trail.Filter{Accounts: []string{"111122223333"}},
			only(func(k string) bool { return strings.Contains(k, "/111122223333/") })},
		{"one region", "s3://trail-bucket/", trail.Filter{Regions: []string{"us-east-1"}},
			only(func(k string) bool { return strings.Contains(k, "/us-east-1/") })},
		{"one day", "s3://trail-bucket/", trail.Filter{Since: day("2026-11-30"), Until: day("2026-12-01")},
			only(func(k string) bool { return strings.Contains(k, "/2026/11/30/") })},
		{"since only", "s3://trail-bucket/", trail.Filter{Since: day("2026-11-30")},
			only(func(k string) bool { return strings.Contains(k, "/2026/11/30/") })},
		{"until only", "s3://trail-bucket/", trail.Filter{Until: day("2026-11-29").Add(12 * time.Hour)},
			only(func(k string) bool {
				return strings.Contains(k, "/2026/11/29/") && k[strings.LastIndex(k, "T")+1:][:2] < "13"
			})},
		{"a prefix that is not a trail", "s3://trail-bucket/AWSLogs/" + trailtest.Org + "/111122223333/CloudTrail/eu-west-1/2026/11/2", trail.Filter{},
			only(func(k string) bool { return strings.Contains(k, "/111122223333/CloudTrail/eu-west-1/2026/11/2") })},
		{"nothing there", "s3://trail-bucket/elsewhere/", trail.Filter{}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := walk(t, api, c.url, c.filter, "")
			if !slices.Equal(got, c.want) {
				t.Errorf("Walk = %d keys\n%s\nwant %d\n%s", len(got), strings.Join(got, "\n"), len(c.want), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestWalkListsOnlyTheDays checks that a date range lists the days of the
// range, not the years of the bucket: a week's backfill of a five-year
// trail must not list five years.
func TestWalkListsOnlyTheDays(t *testing.T) {
	api, _, _ := setup(t)
	day, _ := time.Parse(time.DateOnly, "2026-11-30")
	walk(t, api, "s3://trail-bucket/", trail.Filter{Since: day, Until: day.Add(24 * time.Hour)}, "")
	dated := regexp.MustCompile(`/CloudTrail/[a-z0-9-]+/(.*)$`)
	days := 0
	for _, p := range api.listed {
		m := dated.FindStringSubmatch(p)
		if m == nil {
			continue
		}
		// Until plus the delivery slack reaches into the next day.
		if m[1] != "2026/11/30/" && m[1] != "2026/12/01/" {
			t.Errorf("listed %s: want only the days of the range, enumerated", p)
		}
		days++
	}
	if days != 2*2*2 { // two accounts, two regions, two days
		t.Errorf("listed %d day folders, want 8:\n%s", days, strings.Join(api.listed, "\n"))
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReadInOrder(t *testing.T) {
	api, objects, keys := setup(t)
	loc, _ := trail.ParseURL("s3://trail-bucket/")
	var got []string
	err := trail.Read(context.Background(), api, loc, trail.Filter{}, trail.Options{Concurrency: 4}, func(o trail.Object, body io.Reader) error {
		b, err := io.ReadAll(body)
		if err != nil {
			return err
		}
		if !bytes.Equal(gunzip(t, b), gunzip(t, objects[o.Key])) {
			t.Errorf("%s: body differs from what was stored", o.Key)
		}
		got = append(got, o.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, keys) {
		t.Errorf("Read handed on\n%s\nwant, in key order,\n%s", strings.Join(got, "\n"), strings.Join(keys, "\n"))
	}
}

// TestCheckpointResume interrupts a read, then starts it again with the
// same checkpoint: every object is handed on exactly once in all.
func TestCheckpointResume(t *testing.T) {
	api, _, keys := setup(t)
	loc, _ := trail.ParseURL("s3://trail-bucket/")
	path := filepath.Join(t.TempDir(), "ckpt.json")
	var handed []string
	stop := errors.New("interrupted")
	read := func(limit int) error {
		cp, err := trail.OpenCheckpoint(path, loc, trail.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		return trail.Read(context.Background(), api, loc, trail.Filter{}, trail.Options{Concurrency: 3, Checkpoint: cp}, func(o trail.Object, _ io.Reader) error {
			if n == limit {
				return stop
			}
			n++
			handed = append(handed, o.Key)
			return nil
		})
	}
	if err := read(5); !errors.Is(err, stop) {
		t.Fatalf("first run: err = %v, want the interruption", err)
	}
	if err := read(3); !errors.Is(err, stop) {
		t.Fatalf("second run: err = %v, want the interruption", err)
	}
	api.listed = nil
	if err := read(-1); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(handed, keys) {
		t.Errorf("over three runs, handed on\n%s\nwant each once, in order:\n%s", strings.Join(handed, "\n"), strings.Join(keys, "\n"))
	}
	cp, err := trail.OpenCheckpoint(path, loc, trail.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if cp.Objects != int64(len(keys)) || cp.LastKey != keys[len(keys)-1] {
		t.Errorf("checkpoint: %d objects, last %s; want %d and %s", cp.Objects, cp.LastKey, len(keys), keys[len(keys)-1])
	}
	// A finished checkpoint reads nothing more.
	handed = nil
	if err := read(-1); err != nil || len(handed) != 0 {
		t.Errorf("after the end: %d handed on, err %v", len(handed), err)
	}

	other, _ := trail.ParseURL("s3://trail-bucket/AWSLogs/")
	if _, err := trail.OpenCheckpoint(path, other, trail.Filter{}); err == nil || !strings.Contains(err.Error(), "not of this read") {
		t.Errorf("a checkpoint of another location: err = %v", err)
	}
}

func TestReadErrors(t *testing.T) {
	api, _, _ := setup(t)
	loc, _ := trail.ParseURL("s3://no-such-bucket/")
	err := trail.Read(context.Background(), api, loc, trail.Filter{}, trail.Options{}, func(trail.Object, io.Reader) error { return nil })
	if err == nil || !strings.Contains(trail.Explain(err).Error(), "NoSuchBucket") {
		t.Errorf("missing bucket: err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	loc, _ = trail.ParseURL("s3://trail-bucket/")
	if err := trail.Read(ctx, api, loc, trail.Filter{}, trail.Options{Concurrency: 2}, func(trail.Object, io.Reader) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestParse(t *testing.T) {
	for raw, want := range map[string]trail.Location{
		"s3://b-1.x":                 {Bucket: "b-1.x"},
		"s3://bucket/AWSLogs/o-abc/": {Bucket: "bucket", Prefix: "AWSLogs/o-abc/"},
	} {
		if got, err := trail.ParseURL(raw); err != nil || got != want {
			t.Errorf("ParseURL(%q) = %+v, %v", raw, got, err)
		}
	}
	for _, raw := range []string{"s3://", "s3://UPPER/x", "s3://ab", "https://bucket/x", "s3://bucket/x?versionId=1"} {
		if _, err := trail.ParseURL(raw); err == nil {
			t.Errorf("ParseURL(%q) accepted", raw)
		}
	}
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Time{
		"2026-11-30":           time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC),
		"2026-11-30T08:00:00Z": time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC),
		"36h":                  now.Add(-36 * time.Hour),
		"7d":                   now.AddDate(0, 0, -7),
	} {
		if got, err := trail.ParseTime(v, now); err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	if _, err := trail.ParseTime("yesterday", now); err == nil {
		t.Error("ParseTime(yesterday) accepted")
	}
}
