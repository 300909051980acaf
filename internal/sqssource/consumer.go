// Package sqssource reads CloudTrail live from an SQS queue of S3
// object-created notifications (serve --source sqs://...): each notified
// delivery file is fetched from S3 and its records are scored in-process,
// through the same path a gRPC Score call takes.
//
// Delivery is at least once and scoring effectively once. A message is
// deleted only after every record of every object it names has a verdict;
// a replica that dies leaves its messages to the visibility timeout, and
// the replica that receives them again scores the records already scored
// as DUPLICATE (the engine's dedupe, shared through the state store), so
// nothing is lost and nothing is counted twice. While an object is scored
// the message's visibility is extended, so a slow object is not handed to
// a second replica. At most MaxInFlight messages are held at once: when
// scoring lags, receiving stops. A message that cannot be handled (not a
// notification, an object that is not CloudTrail) is left undeleted; the
// queue's redrive policy moves it to the dead-letter queue after
// maxReceiveCount receives (the consumer warns at start when the queue has
// none).
package sqssource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/metric"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/trail"
)

// API is the part of the SQS API a Consumer calls (*sqs.Client).
type API interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
}

var _ API = (*sqs.Client)(nil)

// Scorer scores records in-process with the semantics of a gRPC Score call
// (dedupe, verdict cache, findings to sinks and Watch): *server.Server.
type Scorer interface {
	ScoreRecords(ctx context.Context, tenant string, records [][]byte) ([]engine.Verdict, error)
}

// Options tune a Consumer. Zero fields take the defaults.
type Options struct {
	QueueURL string // required
	Tenant   string // the tenant the records are scored for; default "" (the default tenant)
	// MaxInFlight bounds the messages held (received, not yet deleted or
	// given up) at once; receiving waits for a free slot. Default 8.
	MaxInFlight int
	// ChunkRecords is how many records go to the scorer at once. Default 500.
	ChunkRecords int
	// WaitTime is the long-poll wait of a receive (at most 20 s). Default 20 s.
	WaitTime time.Duration
	// VisibilityTimeout is how long a message held is kept invisible,
	// extended every third of it while its objects are scored. Default:
	// the queue's VisibilityTimeout attribute.
	VisibilityTimeout time.Duration
	// LagInterval is how often the queue's depth is read for the lag
	// metrics. Default 30 s; negative: never.
	LagInterval   time.Duration
	MaxRecordSize int // default cloudtrail.DefaultMaxRecordSize
	Logger        *slog.Logger
	MeterProvider metric.MeterProvider
}

func (o *Options) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxInFlight, 8)
	def(&o.ChunkRecords, 500)
	def(&o.MaxRecordSize, cloudtrail.DefaultMaxRecordSize)
	if o.WaitTime <= 0 || o.WaitTime > 20*time.Second {
		o.WaitTime = 20 * time.Second
	}
	if o.LagInterval == 0 {
		o.LagInterval = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Consumer receives notifications from one queue and scores the objects
// they name. Several consumers (replicas) may share a queue.
type Consumer struct {
	sqs     API
	s3      trail.API
	scorer  Scorer
	opts    Options
	log     *slog.Logger
	metrics *metrics
	stats   stats
}

// New makes a consumer; Run starts it.
func New(sqsAPI API, s3API trail.API, scorer Scorer, opts Options) *Consumer {
	opts.setDefaults()
	c := &Consumer{sqs: sqsAPI, s3: s3API, scorer: scorer, opts: opts}
	c.log = opts.Logger.With(slog.String("source", "sqs"), slog.String("queue", opts.QueueURL))
	c.metrics = newMetrics(opts.MeterProvider, opts.QueueURL, &c.stats)
	return c
}

// Run receives and handles messages until ctx is done, then gives the
// messages it holds back to the queue (visibility 0) so another replica
// takes them at once, and returns nil. It fails only when the queue cannot
// be read at start.
func (c *Consumer) Run(ctx context.Context) error {
	if err := c.start(ctx); err != nil {
		return err
	}
	if c.opts.LagInterval > 0 {
		go c.pollLag(ctx)
	}
	slots := make(chan struct{}, c.opts.MaxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	backoff := time.Duration(0)
	for {
		select {
		case slots <- struct{}{}: // backpressure: wait until a message is done
		case <-ctx.Done():
			return nil
		}
		n := 1
		for n < min(c.opts.MaxInFlight, 10) {
			select {
			case slots <- struct{}{}:
				n++
				continue
			default:
			}
			break
		}
		msgs, err := c.receive(ctx, n)
		for range n - len(msgs) {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), 30*time.Second)
			c.fail(ctx, "receive", err)
			sleep(ctx, backoff)
			continue
		}
		backoff = 0
		for _, m := range msgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				c.handle(ctx, m)
			}()
		}
	}
}

// start reads the queue's visibility timeout and redrive policy.
func (c *Consumer) start(ctx context.Context) error {
	out, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       &c.opts.QueueURL,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameVisibilityTimeout, types.QueueAttributeNameRedrivePolicy},
	})
	if err != nil {
		return fmt.Errorf("sqs %s: reading the queue's attributes (iamsentry needs sqs:GetQueueAttributes): %w", c.opts.QueueURL, err)
	}
	if c.opts.VisibilityTimeout <= 0 {
		secs, err := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameVisibilityTimeout)])
		if err != nil || secs <= 0 {
			secs = 30
		}
		c.opts.VisibilityTimeout = time.Duration(secs) * time.Second
	}
	redrive := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]
	if !hasDeadLetterQueue(redrive) {
		c.log.Warn("the queue has no redrive policy: a message that cannot be handled is received again until the queue's retention ends; give the queue a dead-letter queue (docs/sources.md)")
	}
	c.log.Info("reading S3 notifications", slog.Duration("visibility_timeout", c.opts.VisibilityTimeout),
		slog.Int("max_in_flight", c.opts.MaxInFlight), slog.String("redrive_policy", redrive))
	return nil
}

// hasDeadLetterQueue reports whether a RedrivePolicy attribute names a
// dead-letter queue.
func hasDeadLetterQueue(policy string) bool {
	var p struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	}
	return json.Unmarshal([]byte(policy), &p) == nil && p.DeadLetterTargetArn != ""
}

func (c *Consumer) receive(ctx context.Context, n int) ([]types.Message, error) {
	out, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:            &c.opts.QueueURL,
		MaxNumberOfMessages: int32(n),
		WaitTimeSeconds:     int32(c.opts.WaitTime / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp,
		},
	})
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// handle handles one message: it is deleted when every object it names is
// scored, given back when the consumer stops, and otherwise left to its
// visibility timeout (and, after maxReceiveCount receives, to the
// dead-letter queue).
func (c *Consumer) handle(ctx context.Context, m types.Message) {
	c.metrics.received(ctx, m)
	receipt := aws.ToString(m.ReceiptHandle)
	log := c.log.With(slog.String("message_id", aws.ToString(m.MessageId)),
		slog.String("receive_count", m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]))
	hbCtx, stopHeartbeat := context.WithCancel(ctx)
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		c.heartbeat(hbCtx, receipt)
	}()
	err := c.handleBody(ctx, aws.ToString(m.Body), log)
	stopHeartbeat()
	<-hbDone
	switch {
	case err == nil:
		c.delete(ctx, receipt, log)
	case ctx.Err() != nil:
		c.giveBack(receipt, log)
	default:
		c.stats.failedMessages.Add(1)
		c.metrics.message(ctx, "failed")
		log.Warn("message not handled; it stays in the queue until its visibility timeout, and goes to the dead-letter queue after the redrive policy's maxReceiveCount", slog.Any("error", err))
	}
}

func (c *Consumer) handleBody(ctx context.Context, body string, log *slog.Logger) error {
	n, err := ParseNotification(body)
	if err != nil {
		c.fail(ctx, "message", err)
		return err
	}
	if n.Shape == "s3-test" {
		c.stats.testEvents.Add(1)
		c.metrics.message(ctx, "test_event")
		return nil
	}
	for _, o := range n.Objects {
		if !trail.IsRecordObject(o.Key) {
			c.metrics.object(ctx, "skipped")
			c.stats.skippedObjects.Add(1)
			continue
		}
		if err := c.scoreObject(ctx, o); err != nil {
			c.metrics.object(ctx, "failed")
			return fmt.Errorf("s3://%s/%s: %w", o.Bucket, o.Key, err)
		}
		c.metrics.object(ctx, "scored")
		c.stats.objects.Add(1)
		log.Debug("object scored", slog.String("object", "s3://"+o.Bucket+"/"+o.Key))
	}
	return nil
}

// scoreObject fetches an object and scores its records in chunks.
func (c *Consumer) scoreObject(ctx context.Context, o ObjectRef) error {
	body, err := trail.Fetch(ctx, c.s3, o.Bucket, o.Key, o.Size)
	if err != nil {
		c.fail(ctx, "fetch", err)
		return trail.Explain(err)
	}
	rd := cloudtrail.NewReader(bytes.NewReader(body), cloudtrail.Options{MaxRecordSize: c.opts.MaxRecordSize})
	var chunk [][]byte
	var valid, invalid int
	var firstInvalid error
	for {
		item, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			c.fail(ctx, "read", err)
			return err
		}
		if item.Err != nil {
			c.metrics.records(ctx, engine.OutcomeInvalid, 1)
			c.stats.outcome(engine.OutcomeInvalid, 1)
			if invalid++; firstInvalid == nil {
				firstInvalid = item.Err
			}
			continue
		}
		valid++
		if chunk = append(chunk, item.Raw); len(chunk) == c.opts.ChunkRecords {
			if err := c.score(ctx, chunk); err != nil {
				return err
			}
			chunk = nil
		}
	}
	if valid == 0 && invalid > 0 {
		// Not a delivery file at all: poison, for the dead-letter queue.
		err := fmt.Errorf("no CloudTrail record in the object, %d invalid (first: %w)", invalid, firstInvalid)
		c.fail(ctx, "read", err)
		return err
	}
	return c.score(ctx, chunk)
}

func (c *Consumer) score(ctx context.Context, records [][]byte) error {
	if len(records) == 0 {
		return nil
	}
	verdicts, err := c.scorer.ScoreRecords(ctx, c.opts.Tenant, records)
	if err != nil {
		c.fail(ctx, "score", err)
		return fmt.Errorf("scoring: %w", err)
	}
	for i := range verdicts {
		c.metrics.records(ctx, verdicts[i].Outcome, 1)
		c.stats.outcome(verdicts[i].Outcome, 1)
	}
	return nil
}

// heartbeat keeps a message invisible while it is handled: every third of
// the visibility timeout it sets the timeout afresh.
func (c *Consumer) heartbeat(ctx context.Context, receipt string) {
	every := max(c.opts.VisibilityTimeout/3, 100*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := c.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: &c.opts.QueueURL, ReceiptHandle: &receipt,
			VisibilityTimeout: int32(max(c.opts.VisibilityTimeout/time.Second, 1)),
		})
		if err != nil && ctx.Err() == nil {
			c.fail(ctx, "visibility", err)
		} else if err == nil {
			c.stats.extended.Add(1)
		}
	}
}

// delete deletes a handled message, even when the consumer is stopping:
// its records are scored.
func (c *Consumer) delete(ctx context.Context, receipt string, log *slog.Logger) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := c.sqs.DeleteMessage(dctx, &sqs.DeleteMessageInput{QueueUrl: &c.opts.QueueURL, ReceiptHandle: &receipt}); err != nil {
		// Received again, its records score as DUPLICATE.
		c.fail(ctx, "delete", err)
		log.Warn("message scored but not deleted; it will be received again and its records score as DUPLICATE", slog.Any("error", err))
		return
	}
	c.stats.deleted.Add(1)
	c.metrics.message(ctx, "deleted")
}

// giveBack makes a message visible again at once, for another replica.
func (c *Consumer) giveBack(receipt string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: &c.opts.QueueURL, ReceiptHandle: &receipt, VisibilityTimeout: 0,
	})
	if err != nil {
		log.Info("stopping: message left to its visibility timeout", slog.Any("error", err))
	}
}

// fail counts and logs an error of one kind.
func (c *Consumer) fail(ctx context.Context, kind string, err error) {
	c.stats.errors.Add(1)
	c.metrics.error(ctx, kind)
	c.log.Warn("sqs source error", slog.String("kind", kind), slog.Any("error", err))
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
