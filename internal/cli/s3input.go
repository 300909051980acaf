package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/iamsentry/iamsentry/internal/trail"
)

// s3Flags are the flags of scan and replay that say how to read s3://
// inputs: a trail in a bucket, walked by date.
type s3Flags struct {
	since, until      string
	accounts, regions string
	region, endpoint  string
	profile           string
	concurrency       int
	checkpoint        string
	progressEvery     time.Duration

	sinceT, untilT time.Time // parsed by check
}

func (f *s3Flags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.since, "since", "", "s3:// inputs: read delivery files from this `time` on (RFC 3339, a date such as 2026-11-30, or a duration back from now such as 36h)")
	fs.StringVar(&f.until, "until", "", "s3:// inputs: read delivery files up to this `time` (plus 30 minutes of delivery delay); same forms as --since")
	fs.StringVar(&f.accounts, "accounts", "", "s3:// inputs: comma-separated account `ids` to read (default: every account of the trail)")
	fs.StringVar(&f.regions, "regions", "", "s3:// inputs: comma-separated `regions` to read (default: every region)")
	fs.StringVar(&f.region, "s3-region", "", "region of the bucket (default: $AWS_REGION or the profile's, else us-east-1)")
	fs.StringVar(&f.endpoint, "s3-endpoint", "", "S3 endpoint `URL` (an S3-compatible server or a VPC endpoint; path-style addressing); $AWS_ENDPOINT_URL_S3 works too")
	fs.StringVar(&f.profile, "s3-profile", "", "AWS shared-config `profile` (default: $AWS_PROFILE); credentials otherwise come from the SDK's chain: environment, SSO, web identity, ECS/EC2 roles")
	fs.IntVar(&f.concurrency, "s3-concurrency", 8, "s3:// inputs: objects fetched at once (memory: about this many delivery files)")
	fs.StringVar(&f.checkpoint, "checkpoint", "", "s3:// input: record progress in this `file` and, when it exists, go on after the last object it names")
}

// check parses the flags once the arguments are known.
func (f *s3Flags) check(args []string) error {
	var urls int
	for _, a := range args {
		if trail.IsURL(a) {
			urls++
		}
	}
	if urls == 0 {
		for name, v := range map[string]string{"since": f.since, "until": f.until, "accounts": f.accounts, "regions": f.regions, "checkpoint": f.checkpoint} {
			if v != "" {
				return fmt.Errorf("--%s applies to s3:// inputs only", name)
			}
		}
		return nil
	}
	if f.checkpoint != "" && urls > 1 {
		return errors.New("--checkpoint takes one s3:// input")
	}
	if f.concurrency < 1 {
		return errors.New("--s3-concurrency must be at least 1")
	}
	now := time.Now().UTC()
	var err error
	if f.since != "" {
		if f.sinceT, err = trail.ParseTime(f.since, now); err != nil {
			return fmt.Errorf("--since: %w", err)
		}
	}
	if f.until != "" {
		if f.untilT, err = trail.ParseTime(f.until, now); err != nil {
			return fmt.Errorf("--until: %w", err)
		}
	}
	if !f.sinceT.IsZero() && !f.untilT.IsZero() && !f.sinceT.Before(f.untilT) {
		return errors.New("--since must be before --until")
	}
	return nil
}

func (f *s3Flags) filter() trail.Filter {
	return trail.Filter{Since: f.sinceT, Until: f.untilT, Accounts: splitList(f.accounts), Regions: splitList(f.regions)}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// readS3 reads the trail at url and calls fn on each delivery file, named
// by its s3:// URL, in key order; progress goes to log.
func (f *s3Flags) readS3(ctx context.Context, url string, log io.Writer, cmd string, fn func(ctx context.Context, name string, r io.Reader) error) error {
	loc, err := trail.ParseURL(url)
	if err != nil {
		return err
	}
	client, err := trail.NewClient(ctx, trail.ClientOptions{Region: f.region, Endpoint: f.endpoint, Profile: f.profile})
	if err != nil {
		return err
	}
	filter := f.filter()
	opts := trail.Options{Concurrency: f.concurrency}
	if f.checkpoint != "" {
		if opts.Checkpoint, err = trail.OpenCheckpoint(f.checkpoint, loc, filter); err != nil {
			return err
		}
		fmt.Fprintf(log, "iamsentry %s: %s\n", cmd, opts.Checkpoint.Describe())
	}
	p := &s3Progress{w: log, cmd: cmd, loc: loc.String(), every: f.progressEvery, start: time.Now()}
	if p.every == 0 {
		p.every = 10 * time.Second
	}
	err = trail.Read(ctx, client, loc, filter, opts, func(o trail.Object, body io.Reader) error {
		err := fn(ctx, "s3://"+loc.Bucket+"/"+o.Key, body)
		p.done(o)
		return err
	})
	p.final()
	return trail.Explain(err)
}

// s3Progress prints a line every so often while a trail is read.
type s3Progress struct {
	mu             sync.Mutex
	w              io.Writer
	cmd, loc       string
	every          time.Duration
	start, printed time.Time
	objects, bytes int64
	last           string
}

func (p *s3Progress) done(o trail.Object) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.objects++
	p.bytes += o.Size
	p.last = o.Key
	if time.Since(p.printed) >= p.every && time.Since(p.start) >= p.every {
		p.printed = time.Now()
		fmt.Fprintf(p.w, "iamsentry %s: %s: %d objects (%.1f MB) read in %s; at %s\n", p.cmd, p.loc, p.objects, float64(p.bytes)/1e6, time.Since(p.start).Round(time.Second), p.last)
	}
}

func (p *s3Progress) final() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "iamsentry %s: %s: %d objects (%.1f MB) read in %s\n", p.cmd, p.loc, p.objects, float64(p.bytes)/1e6, time.Since(p.start).Round(time.Millisecond))
}
