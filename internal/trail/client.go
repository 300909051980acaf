package trail

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// ClientOptions say how to reach S3. Credentials come from the SDK's
// standard chain: environment, shared config and credentials files
// (profiles, SSO), web identity, ECS and EC2 instance roles.
type ClientOptions struct {
	// Region of the bucket; "" takes the SDK's ($AWS_REGION, the profile),
	// else us-east-1.
	Region string
	// Endpoint overrides the S3 endpoint (an S3-compatible server, a VPC
	// endpoint); it also switches to path-style addressing. "" takes
	// $AWS_ENDPOINT_URL_S3, then $AWS_ENDPOINT_URL, as the SDK would.
	Endpoint string
	// Profile names a shared-config profile; "" takes $AWS_PROFILE.
	Profile string
}

// NewClient makes an S3 client.
func NewClient(ctx context.Context, o ClientOptions) (*s3.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, awsconfig.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(o.Profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if o.Endpoint == "" {
		o.Endpoint = cmp.Or(os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL"))
	}
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
			so.UsePathStyle = true
		}
	}), nil
}

// Explain adds what to do to the S3 errors people meet first: a bucket in
// another region, and missing permissions.
func Explain(err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.ErrorCode() {
	case "PermanentRedirect", "AuthorizationHeaderMalformed":
		return fmt.Errorf("%w (the bucket is in another region: pass --s3-region)", err)
	case "AccessDenied", "AllAccessDisabled":
		return fmt.Errorf("%w (iamsentry needs s3:ListBucket on the bucket and s3:GetObject on its keys; see docs/sources.md)", err)
	case "NoSuchBucket":
		return fmt.Errorf("%w (check the bucket name and --s3-endpoint)", err)
	}
	return err
}
