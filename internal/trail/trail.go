// Package trail reads CloudTrail where CloudTrail writes it: the delivery
// files of a trail in an S3 bucket.
//
// A trail delivers gzip files of records under
//
//	[prefix/]AWSLogs/[o-orgid/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_ID.json.gz
//
// next to digest files (CloudTrail-Digest) and Insights (CloudTrail-Insight).
// List walks that layout by date, so a backfill of a week lists a week of
// prefixes, not the bucket; Read fetches objects concurrently with bounded
// memory and hands them on in key order (the order a directory walk of the
// same tree takes), and a Checkpoint lets an interrupted run go on where it
// stopped.
//
// The package needs s3:ListBucket and s3:GetObject, nothing else.
package trail

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Location is an s3:// URL: a bucket and a key prefix.
type Location struct {
	Bucket string
	Prefix string // "" or ending in "/" when it names a folder
}

func (l Location) String() string { return "s3://" + l.Bucket + "/" + l.Prefix }

// IsURL reports whether arg is an s3:// URL rather than a path.
func IsURL(arg string) bool { return strings.HasPrefix(arg, "s3://") }

// ParseURL parses s3://bucket[/prefix]. The prefix is kept as given: a
// prefix without a final slash matches keys that start with it.
func ParseURL(raw string) (Location, error) {
	rest, ok := strings.CutPrefix(raw, "s3://")
	if !ok {
		return Location{}, fmt.Errorf("%q is not an s3:// URL", raw)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if !bucketPattern.MatchString(bucket) {
		return Location{}, fmt.Errorf("%q: %q is not an S3 bucket name (3 to 63 lower-case letters, digits, dots and hyphens)", raw, bucket)
	}
	if strings.ContainsAny(prefix, "?#") {
		if u, err := url.Parse(raw); err == nil && (u.RawQuery != "" || u.Fragment != "") {
			return Location{}, fmt.Errorf("%q: an s3:// URL takes no query or fragment", raw)
		}
	}
	return Location{Bucket: bucket, Prefix: prefix}, nil
}

var bucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// Filter selects the delivery files to read.
type Filter struct {
	// Since and Until bound the delivery time (UTC) of the files, taken
	// from their names: a file is read when Since <= its time < Until
	// plus Slack. Zero means unbounded.
	Since, Until time.Time
	// Accounts and Regions, when not empty, limit the walk to those.
	Accounts []string
	Regions  []string
}

// Slack is how long after Until a file may be delivered and still be
// read: CloudTrail delivers a record within about 15 minutes of the call,
// so the files of the last quarter hour before Until come after it.
const Slack = 30 * time.Minute

// ParseTime reads a --since or --until value: RFC 3339, or a date
// (YYYY-MM-DD, midnight UTC), or a duration back from now ("36h", "7d").
func ParseTime(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d).UTC(), nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return now.AddDate(0, 0, -n).UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: want RFC 3339 (2026-11-30T08:00:00Z), a date (2026-11-30) or a duration back from now (36h, 7d)", v)
}

// Object is one delivery file.
type Object struct {
	Key  string
	Size int64
}

// fileTime is the delivery time in a file name
// (..._CloudTrail_us-east-1_20261130T0805Z_abc.json.gz), or false.
func fileTime(key string) (time.Time, bool) {
	m := fileTimePattern.FindStringSubmatch(key[strings.LastIndexByte(key, '/')+1:])
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102T1504Z", m[1])
	return t, err == nil
}

var fileTimePattern = regexp.MustCompile(`_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4}Z)_`)

// IsRecordObject reports whether a key names a file of records: not a
// digest, not an Insights file, not a folder marker, and with a name a
// directory walk would read (.json, .jsonl, .ndjson, optionally .gz).
func IsRecordObject(key string) bool {
	if strings.HasSuffix(key, "/") || strings.Contains(key, "/CloudTrail-Digest/") ||
		strings.Contains(key, "/CloudTrail-Insight/") {
		return false
	}
	name := strings.ToLower(key[strings.LastIndexByte(key, '/')+1:])
	if strings.Contains(name, "_cloudtrail-digest_") {
		return false
	}
	name = strings.TrimSuffix(name, ".gz")
	return strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".ndjson")
}

// keep reports whether f selects the object by its delivery time. A file
// whose name carries no time is kept.
func (f Filter) keep(key string) bool {
	t, ok := fileTime(key)
	if !ok {
		return true
	}
	if !f.Since.IsZero() && t.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !t.Before(f.Until.Add(Slack)) {
		return false
	}
	return true
}

// check reports a filter that selects nothing.
func (f Filter) check() error {
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return errors.New("--since must be before --until")
	}
	return nil
}
