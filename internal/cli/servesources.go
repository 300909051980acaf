package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/iamsentry/iamsentry/internal/sqssource"
	"github.com/iamsentry/iamsentry/internal/trail"
)

// sourceFlags are serve's live sources: SQS queues of S3 notifications
// whose delivery files serve reads and scores itself.
type sourceFlags struct {
	sources                      sourceList
	region, endpoint, profile    string
	s3Region, s3Endpoint, s3Prof string
	tenant                       string
	maxInFlight                  int
	visibility                   time.Duration
	queues                       []sqssource.Queue // parsed by check
}

type sourceList []string

func (l *sourceList) String() string     { return strings.Join(*l, ",") }
func (l *sourceList) Set(v string) error { *l = append(*l, v); return nil }

func (f *sourceFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.sources, "source", "read CloudTrail from an SQS queue of S3 object-created notifications (S3 direct, SNS or EventBridge): sqs://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE or sqs://QUEUE; repeatable; see docs/sources.md#sqs-live")
	fs.StringVar(&f.region, "sqs-region", "", "region of the --source queues (default: the queue URL's, else $AWS_REGION or the profile's)")
	fs.StringVar(&f.endpoint, "sqs-endpoint", "", "SQS endpoint `URL` (a VPC endpoint or an SQS-compatible server); $AWS_ENDPOINT_URL_SQS works too")
	fs.StringVar(&f.profile, "sqs-profile", "", "AWS shared-config `profile` for --source (default: $AWS_PROFILE; otherwise the SDK's chain: environment, SSO, web identity, ECS/EC2 roles)")
	fs.StringVar(&f.s3Region, "source-s3-region", "", "region of the buckets --source notifications name (default: as --sqs-region)")
	fs.StringVar(&f.s3Endpoint, "source-s3-endpoint", "", "S3 endpoint `URL` for the objects --source notifications name; $AWS_ENDPOINT_URL_S3 works too")
	fs.StringVar(&f.s3Prof, "source-s3-profile", "", "AWS shared-config `profile` for reading those objects (default: as --sqs-profile)")
	fs.StringVar(&f.tenant, "source-tenant", "", "`tenant` the --source records are scored for (default: the default tenant)")
	fs.IntVar(&f.maxInFlight, "source-max-in-flight", 8, "most SQS messages a --source holds at once; receiving waits while they are scored (backpressure)")
	fs.DurationVar(&f.visibility, "source-visibility-timeout", 0, "how long a received message stays invisible, extended every third of it while its objects are scored (default: the queue's VisibilityTimeout)")
}

// check parses the --source URLs.
func (f *sourceFlags) check() error {
	for _, s := range f.sources {
		if !sqssource.IsURL(s) {
			return fmt.Errorf("--source %q: only sqs:// sources are read live (s3:// trails are read by scan and replay)", s)
		}
		q, err := sqssource.ParseURL(s)
		if err != nil {
			return fmt.Errorf("--source: %w", err)
		}
		f.queues = append(f.queues, q)
	}
	if f.maxInFlight < 1 {
		return errors.New("--source-max-in-flight must be at least 1")
	}
	return nil
}

// start starts a consumer per --source, scoring through scorer. A consumer
// that cannot read its queue at start calls fail. wait waits for them all
// once ctx is done.
func (f *sourceFlags) start(ctx context.Context, scorer sqssource.Scorer, mp metric.MeterProvider, log *slog.Logger, fail func(error)) (wait func(), err error) {
	var wg sync.WaitGroup
	wait = wg.Wait
	if len(f.queues) == 0 {
		return wait, nil
	}
	s3c, err := trail.NewClient(ctx, trail.ClientOptions{Region: orDefault(f.s3Region, f.region), Endpoint: f.s3Endpoint, Profile: orDefault(f.s3Prof, f.profile)})
	if err != nil {
		return wait, err
	}
	for _, q := range f.queues {
		client, err := sqssource.NewClient(ctx, q, sqssource.ClientOptions{Region: f.region, Endpoint: f.endpoint, Profile: f.profile})
		if err != nil {
			return wait, err
		}
		url, err := sqssource.Resolve(ctx, client, q, f.endpoint)
		if err != nil {
			return wait, err
		}
		c := sqssource.New(client, s3c, scorer, sqssource.Options{
			QueueURL: url, Tenant: f.tenant, MaxInFlight: f.maxInFlight, VisibilityTimeout: f.visibility,
			Logger: log, MeterProvider: mp,
		})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Run(ctx); err != nil {
				fail(err)
			}
		}()
	}
	return wait, nil
}

// sourceError is why a --source stopped serve.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
