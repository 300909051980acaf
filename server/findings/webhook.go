package findings

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// WebhookConfig configures a WebhookSink. Zero fields take the defaults.
type WebhookConfig struct {
	Name        string            // for logs and the metric's sink attribute
	URL         string            // where to POST
	Headers     map[string]string // added to every request (e.g. Authorization)
	Format      Format            // default JSON
	Filter      Filter
	Timeout     time.Duration // per attempt; default 10 s
	QueueSize   int           // items waiting to be sent; default 1000
	MaxAttempts int           // tries per item, the first included; default 5
	Backoff     time.Duration // wait before the first retry, doubled each time up to 30 s; default 500 ms

	Client        *http.Client         // default: one with Timeout
	Logger        *slog.Logger         // default: discard
	MeterProvider metric.MeterProvider // default: the global provider
}

// Webhook defaults.
const (
	DefaultWebhookTimeout     = 10 * time.Second
	DefaultWebhookQueueSize   = 1000
	DefaultWebhookMaxAttempts = 5
	DefaultWebhookBackoff     = 500 * time.Millisecond
	maxWebhookBackoff         = 30 * time.Second
)

// WebhookSink POSTs each item as one JSON document (Content-Type
// application/json) from a bounded queue, one at a time, retrying network
// errors, 408, 429 and 5xx with exponential backoff and jitter. An item that
// does not fit the queue, exhausts its attempts or is refused (another 4xx)
// is dropped and counted in iamsentry.findings.dropped.
type WebhookSink struct {
	cfg   WebhookConfig
	queue chan []byte
	drops drops
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// NewWebhookSink starts a webhook sink; Close stops it.
func NewWebhookSink(cfg WebhookConfig) *WebhookSink {
	if cfg.Format == nil {
		cfg.Format = JSON
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultWebhookTimeout
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultWebhookQueueSize
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultWebhookMaxAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultWebhookBackoff
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &WebhookSink{cfg: cfg, queue: make(chan []byte, cfg.QueueSize),
		drops: newDrops(cfg.MeterProvider, cfg.Name), stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

// Send implements Sink: it queues the item, or drops it when the queue is
// full.
func (s *WebhookSink) Send(it Item) {
	if !s.cfg.Filter.pass(it) {
		return
	}
	doc, ok := s.cfg.Format(it)
	if !ok {
		return
	}
	select {
	case s.queue <- doc:
	default:
		s.drops.add(DropQueueFull, 1)
	}
}

// TakesStories implements StorySink.
func (s *WebhookSink) TakesStories() {}

// Queued returns how many items wait in the queue.
func (s *WebhookSink) Queued() int { return len(s.queue) }

// Close implements Sink: it stops taking items and sends what is queued
// until ctx ends; what is left is dropped and counted.
func (s *WebhookSink) Close(ctx context.Context) error {
	s.once.Do(func() { close(s.stop) })
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("webhook %s: %d items unsent at shutdown: %w", s.cfg.Name, len(s.queue), ctx.Err())
	}
}

func (s *WebhookSink) run() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for {
		select {
		case doc := <-s.queue:
			s.deliver(ctx, doc)
		case <-s.stop:
			for {
				select {
				case doc := <-s.queue:
					s.deliver(ctx, doc)
				default:
					return
				}
			}
		}
	}
}

// deliver tries one document up to MaxAttempts times.
func (s *WebhookSink) deliver(ctx context.Context, doc []byte) {
	wait := s.cfg.Backoff
	for attempt := 1; ; attempt++ {
		retry, err := s.post(ctx, doc)
		if err == nil {
			return
		}
		if !retry {
			s.drops.add(DropRejected, 1)
			s.cfg.Logger.Warn("webhook refused a finding; dropped", slog.String("sink", s.cfg.Name), slog.Any("error", err))
			return
		}
		if attempt >= s.cfg.MaxAttempts {
			s.drops.add(DropGaveUp, 1)
			s.cfg.Logger.Warn("webhook unreachable; finding dropped after retries", slog.String("sink", s.cfg.Name),
				slog.Int("attempts", attempt), slog.Any("error", err))
			return
		}
		// Full jitter over [wait/2, wait) spreads replicas retrying together.
		d := wait/2 + rand.N(wait/2+1)
		select {
		case <-time.After(d):
		case <-s.stop:
			// Shutting down: keep trying the queue promptly, without waiting.
		}
		wait = min(2*wait, maxWebhookBackoff)
	}
}

// post sends doc once; retry says whether a failure may succeed later.
func (s *WebhookSink) post(ctx context.Context, doc []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(doc))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "iamsentry")
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c == http.StatusRequestTimeout, c == http.StatusTooManyRequests, c >= 500:
		return true, fmt.Errorf("HTTP %d", c)
	default:
		return false, fmt.Errorf("HTTP %d", c)
	}
}
