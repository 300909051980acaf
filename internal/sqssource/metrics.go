package sqssource

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/iamsentry/iamsentry/engine"
)

// Stats are a consumer's counts since it started.
type Stats struct {
	Deleted        int64 // messages deleted after every record they name was scored
	TestEvents     int64 // s3:TestEvent messages (deleted)
	FailedMessages int64 // messages left undeleted for an error
	Objects        int64 // objects whose records were all scored
	SkippedObjects int64 // objects that are not record files (digests, Insights)
	Records        map[engine.Outcome]int64
	Errors         int64
	Extended       int64 // visibility extensions
}

// Stats returns the consumer's counts.
func (c *Consumer) Stats() Stats {
	s := &c.stats
	out := Stats{Deleted: s.deleted.Load(), TestEvents: s.testEvents.Load(), FailedMessages: s.failedMessages.Load(),
		Objects: s.objects.Load(), SkippedObjects: s.skippedObjects.Load(), Errors: s.errors.Load(),
		Extended: s.extended.Load(), Records: map[engine.Outcome]int64{}}
	for o := range s.records {
		if n := s.records[o].Load(); n > 0 {
			out.Records[engine.Outcome(o)] = n
		}
	}
	return out
}

type stats struct {
	deleted, testEvents, failedMessages atomic.Int64
	objects, skippedObjects, errors     atomic.Int64
	extended                            atomic.Int64
	records                             [8]atomic.Int64 // by engine.Outcome
	visible, inFlight                   atomic.Int64    // the queue's depth, last read
}

func (s *stats) outcome(o engine.Outcome, n int64) {
	if o >= 0 && int(o) < len(s.records) {
		s.records[o].Add(n)
	}
}

// metrics are the consumer's instruments (OpenTelemetry, exported on
// /metrics by serve). A failed instrument is a working no-op.
type metrics struct {
	queue    attribute.KeyValue
	messages metric.Int64Counter
	objects  metric.Int64Counter
	recs     metric.Int64Counter
	errors   metric.Int64Counter
	age      metric.Float64Histogram
}

func newMetrics(mp metric.MeterProvider, queueURL string, s *stats) *metrics {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter("github.com/iamsentry/iamsentry/internal/sqssource")
	out := &metrics{queue: attribute.String("queue", queueURL)}
	out.messages, _ = m.Int64Counter("iamsentry.sqs.messages", metric.WithUnit("{message}"),
		metric.WithDescription("SQS messages handled, by outcome: deleted (every record named was scored), test_event (s3:TestEvent, deleted), failed (left to the visibility timeout and the redrive policy)."))
	out.objects, _ = m.Int64Counter("iamsentry.sqs.objects", metric.WithUnit("{object}"),
		metric.WithDescription("S3 objects named by SQS notifications, by outcome: scored, skipped (not a record file), failed."))
	out.recs, _ = m.Int64Counter("iamsentry.sqs.records", metric.WithUnit("{record}"),
		metric.WithDescription("Records of notified S3 objects, by verdict outcome (DUPLICATE: scored before, e.g. by a replica that died before deleting the message)."))
	out.errors, _ = m.Int64Counter("iamsentry.sqs.errors", metric.WithUnit("{error}"),
		metric.WithDescription("Errors of the SQS source, by kind: receive, message (not a notification), fetch, read (not CloudTrail), score, visibility, delete."))
	out.age, _ = m.Float64Histogram("iamsentry.sqs.message.age", metric.WithUnit("s"),
		metric.WithDescription("Age of a message when received (now - SentTimestamp): how far the source lags behind the queue."),
		metric.WithExplicitBucketBoundaries(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600))
	g, err := m.Int64ObservableGauge("iamsentry.sqs.queue.messages", metric.WithUnit("{message}"),
		metric.WithDescription("Messages in the queue as last read (GetQueueAttributes): visible (waiting) and in_flight (received, not deleted)."))
	if err == nil {
		m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
			o.ObserveInt64(g, s.visible.Load(), metric.WithAttributes(out.queue, attribute.String("state", "visible")))
			o.ObserveInt64(g, s.inFlight.Load(), metric.WithAttributes(out.queue, attribute.String("state", "in_flight")))
			return nil
		}, g)
	}
	return out
}

func (m *metrics) message(ctx context.Context, outcome string) {
	m.messages.Add(ctx, 1, metric.WithAttributes(m.queue, attribute.String("outcome", outcome)))
}

func (m *metrics) object(ctx context.Context, outcome string) {
	m.objects.Add(ctx, 1, metric.WithAttributes(m.queue, attribute.String("outcome", outcome)))
}

func (m *metrics) records(ctx context.Context, o engine.Outcome, n int64) {
	m.recs.Add(ctx, n, metric.WithAttributes(m.queue, attribute.String("outcome", o.String())))
}

func (m *metrics) error(ctx context.Context, kind string) {
	m.errors.Add(ctx, 1, metric.WithAttributes(m.queue, attribute.String("kind", kind)))
}

// received records a message's age.
func (m *metrics) received(ctx context.Context, msg types.Message) {
	ms, err := strconv.ParseInt(msg.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64)
	if err != nil {
		return
	}
	m.age.Record(ctx, max(time.Since(time.UnixMilli(ms)).Seconds(), 0), metric.WithAttributes(m.queue))
}

// pollLag reads the queue's depth every LagInterval for the gauge.
func (c *Consumer) pollLag(ctx context.Context) {
	t := time.NewTicker(c.opts.LagInterval)
	defer t.Stop()
	for {
		out, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: &c.opts.QueueURL,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages,
				types.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
		})
		if err == nil {
			if n, err := strconv.ParseInt(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)], 10, 64); err == nil {
				c.stats.visible.Store(n)
			}
			if n, err := strconv.ParseInt(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)], 10, 64); err == nil {
				c.stats.inFlight.Store(n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
