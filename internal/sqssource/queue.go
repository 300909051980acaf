package sqssource

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Queue names the queue of a --source sqs:// URL.
type Queue struct {
	// URL is the queue URL, or "" when only Name is known (GetQueueUrl
	// finds it).
	URL    string
	Name   string
	Region string // from the URL's host; "" when it has none
}

// IsURL reports whether a source is an sqs:// URL.
func IsURL(s string) bool { return strings.HasPrefix(s, "sqs://") }

// ParseURL reads sqs://HOST/ACCOUNT/NAME (the queue URL with sqs://
// instead of https://, e.g.
// sqs://sqs.eu-west-1.amazonaws.com/111122223333/trail-events) or
// sqs://NAME (a queue of the caller's account, in the configured region).
func ParseURL(raw string) (Queue, error) {
	rest, ok := strings.CutPrefix(raw, "sqs://")
	if !ok {
		return Queue{}, fmt.Errorf("%q is not an sqs:// URL", raw)
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 1 && queueName.MatchString(parts[0]):
		return Queue{Name: parts[0]}, nil
	case len(parts) == 3 && parts[0] != "" && account.MatchString(parts[1]) && queueName.MatchString(parts[2]):
		q := Queue{URL: "https://" + rest, Name: parts[2]}
		if m := sqsHost.FindStringSubmatch(parts[0]); m != nil {
			q.Region = m[1]
		}
		return q, nil
	}
	return Queue{}, fmt.Errorf("%q: want sqs://HOST/ACCOUNT/QUEUE (e.g. sqs://sqs.eu-west-1.amazonaws.com/111122223333/trail-events) or sqs://QUEUE", raw)
}

var (
	queueName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}(\.fifo)?$`)
	account   = regexp.MustCompile(`^[0-9]{12}$`)
	sqsHost   = regexp.MustCompile(`^sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)
)

// ClientOptions say how to reach SQS. Credentials come from the SDK's
// standard chain (environment, profiles and SSO, web identity, ECS and
// EC2 roles).
type ClientOptions struct {
	Region   string // "" takes the URL's, then the SDK's ($AWS_REGION, the profile), else us-east-1
	Endpoint string // an SQS-compatible server or VPC endpoint; "" takes $AWS_ENDPOINT_URL_SQS, then $AWS_ENDPOINT_URL
	Profile  string // a shared-config profile; "" takes $AWS_PROFILE
}

// NewClient makes an SQS client for q.
func NewClient(ctx context.Context, q Queue, o ClientOptions) (*sqs.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if r := cmp.Or(o.Region, q.Region); r != "" {
		opts = append(opts, awsconfig.WithRegion(r))
	}
	if o.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(o.Profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("sqs: AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	endpoint := cmp.Or(o.Endpoint, os.Getenv("AWS_ENDPOINT_URL_SQS"), os.Getenv("AWS_ENDPOINT_URL"))
	return sqs.NewFromConfig(cfg, func(so *sqs.Options) {
		if endpoint != "" {
			so.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// Resolve returns the queue URL, asking SQS for it when q has only a name.
// With an endpoint override, a queue URL's host is replaced by the
// endpoint's (a VPC endpoint, a test server).
func Resolve(ctx context.Context, api API, q Queue, endpoint string) (string, error) {
	if q.URL != "" {
		if endpoint != "" {
			_, path, _ := strings.Cut(strings.TrimPrefix(q.URL, "https://"), "/")
			return strings.TrimSuffix(endpoint, "/") + "/" + path, nil
		}
		return q.URL, nil
	}
	out, err := api.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: &q.Name})
	if err != nil {
		return "", fmt.Errorf("sqs://%s: %w", q.Name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}
