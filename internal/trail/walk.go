package trail

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// API is the part of the S3 client the package uses; *s3.Client has it.
type API interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Walk calls fn on every record file under loc that f selects, in key
// order, listing no more of the bucket than it must: under a trail's
// AWSLogs/ folder it descends by organisation, account, region and date
// (a date range lists only those days); elsewhere it lists the prefix.
// Keys up to and including after are skipped (a checkpoint's last key).
func Walk(ctx context.Context, api API, loc Location, f Filter, after string, fn func(Object) error) error {
	if err := f.check(); err != nil {
		return err
	}
	w := &walker{api: api, loc: loc, f: f, after: after, fn: fn}
	base, isTrail, err := w.trailBase(ctx)
	if err != nil {
		return err
	}
	if !isTrail {
		return w.objects(ctx, loc.Prefix)
	}
	return w.logs(ctx, base)
}

type walker struct {
	api   API
	loc   Location
	f     Filter
	after string
	fn    func(Object) error
}

var (
	accountPattern = regexp.MustCompile(`^\d{12}$`)
	orgPattern     = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	regionPattern  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
)

// trailBase finds the AWSLogs/ folder the location is in or above.
func (w *walker) trailBase(ctx context.Context) (string, bool, error) {
	if i := strings.Index(w.loc.Prefix, "AWSLogs/"); i >= 0 {
		return w.loc.Prefix[:i+len("AWSLogs/")], true, nil
	}
	if w.loc.Prefix != "" && !strings.HasSuffix(w.loc.Prefix, "/") {
		return "", false, nil
	}
	base := w.loc.Prefix + "AWSLogs/"
	out, err := w.list(ctx, &s3.ListObjectsV2Input{Bucket: &w.loc.Bucket, Prefix: &base, MaxKeys: aws.Int32(1)})
	if err != nil {
		return "", false, err
	}
	return base, len(out.Contents) > 0, nil
}

// wanted reports whether the folder p can hold keys of the location and
// keys after the checkpoint.
func (w *walker) wanted(p string) bool {
	if !strings.HasPrefix(p, w.loc.Prefix) && !strings.HasPrefix(w.loc.Prefix, p) {
		return false
	}
	// Every key under p sorts before w.after: all done.
	return w.after == "" || strings.HasPrefix(w.after, p) || p > w.after
}

func (w *walker) logs(ctx context.Context, base string) error {
	children, err := w.folders(ctx, base)
	if err != nil {
		return err
	}
	for _, c := range children {
		switch name := strings.TrimSuffix(strings.TrimPrefix(c, base), "/"); {
		case orgPattern.MatchString(name):
			accounts, err := w.folders(ctx, c)
			if err != nil {
				return err
			}
			for _, a := range accounts {
				if err := w.account(ctx, a, strings.TrimSuffix(strings.TrimPrefix(a, c), "/")); err != nil {
					return err
				}
			}
		case accountPattern.MatchString(name):
			if err := w.account(ctx, c, name); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *walker) account(ctx context.Context, prefix, id string) error {
	if !accountPattern.MatchString(id) || len(w.f.Accounts) > 0 && !slices.Contains(w.f.Accounts, id) {
		return nil
	}
	ct := prefix + "CloudTrail/"
	if !w.wanted(ct) {
		return nil
	}
	var regions []string
	if len(w.f.Regions) > 0 {
		for _, r := range slices.Sorted(slices.Values(w.f.Regions)) {
			regions = append(regions, ct+r+"/")
		}
	} else {
		var err error
		if regions, err = w.folders(ctx, ct); err != nil {
			return err
		}
	}
	for _, r := range regions {
		if !regionPattern.MatchString(strings.TrimSuffix(strings.TrimPrefix(r, ct), "/")) {
			continue
		}
		if err := w.region(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// region reads the days of one region: enumerated when the filter bounds
// them, listed otherwise.
func (w *walker) region(ctx context.Context, prefix string) error {
	if !w.wanted(prefix) {
		return nil
	}
	if !w.f.Since.IsZero() {
		until := w.f.Until
		if until.IsZero() {
			until = time.Now().UTC()
		}
		last := until.Add(Slack)
		for d := w.f.Since.UTC().Truncate(24 * time.Hour); !d.After(last); d = d.AddDate(0, 0, 1) {
			if err := w.objects(ctx, prefix+d.Format("2006/01/02/")); err != nil {
				return err
			}
		}
		return nil
	}
	years, err := w.folders(ctx, prefix)
	if err != nil {
		return err
	}
	for _, y := range years {
		months, err := w.folders(ctx, y)
		if err != nil {
			return err
		}
		for _, m := range months {
			days, err := w.folders(ctx, m)
			if err != nil {
				return err
			}
			for _, d := range days {
				if err := w.objects(ctx, d); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// folders lists the folders directly under prefix that wanted accepts.
func (w *walker) folders(ctx context.Context, prefix string) ([]string, error) {
	if !w.wanted(prefix) {
		return nil, nil
	}
	var out []string
	in := &s3.ListObjectsV2Input{Bucket: &w.loc.Bucket, Prefix: &prefix, Delimiter: aws.String("/")}
	for {
		page, err := w.list(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, p := range page.CommonPrefixes {
			if p.Prefix != nil && w.wanted(*p.Prefix) {
				out = append(out, *p.Prefix)
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		in.ContinuationToken = page.NextContinuationToken
	}
}

// objects calls fn on the record files under prefix.
func (w *walker) objects(ctx context.Context, prefix string) error {
	if !w.wanted(prefix) {
		return nil
	}
	in := &s3.ListObjectsV2Input{Bucket: &w.loc.Bucket, Prefix: &prefix}
	if w.after != "" && strings.HasPrefix(w.after, prefix) {
		in.StartAfter = &w.after
	}
	for {
		page, err := w.list(ctx, in)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if !strings.HasPrefix(key, w.loc.Prefix) || key <= w.after || !IsRecordObject(key) || !w.f.keep(key) {
				continue
			}
			if err := w.fn(Object{Key: key, Size: aws.ToInt64(o.Size)}); err != nil {
				return err
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			return nil
		}
		in.ContinuationToken = page.NextContinuationToken
	}
}

func (w *walker) list(ctx context.Context, in *s3.ListObjectsV2Input) (*s3.ListObjectsV2Output, error) {
	out, err := w.api.ListObjectsV2(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: list: %w", w.loc.Bucket, aws.ToString(in.Prefix), err)
	}
	return out, nil
}
