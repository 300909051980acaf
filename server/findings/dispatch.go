package findings

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/iamsentry/iamsentry/engine/story"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// DispatcherConfig configures a Dispatcher. Zero fields take defaults.
type DispatcherConfig struct {
	Hub           *Hub   // where this replica's watchers subscribe; required
	Bus           Bus    // fan-out between replicas; nil delivers to Hub in-process
	Sinks         []Sink // where findings leave; closed by Close
	QueueSize     int    // scored batches waiting to be dispatched; default 4096
	Logger        *slog.Logger
	MeterProvider metric.MeterProvider
}

// DefaultDispatchQueue is the default DispatcherConfig.QueueSize.
const DefaultDispatchQueue = 4096

// publishTimeout bounds one Bus.Publish.
const publishTimeout = 5 * time.Second

// Dispatcher takes the findings of scored batches without ever blocking
// scoring, and passes them to the Bus (or Hub) and every Sink from one
// goroutine, in the order they were scored.
type Dispatcher struct {
	cfg   DispatcherConfig
	queue chan dispatch
	drops drops

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	done   chan struct{}
}

type dispatch struct {
	tenant   string
	findings []*iamsentryv1.Finding
	stories  []story.Story
	invalid  []Invalid
}

// NewDispatcher returns a dispatcher; Run starts it.
func NewDispatcher(cfg DispatcherConfig) *Dispatcher {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultDispatchQueue
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Hub == nil {
		cfg.Hub = NewHub()
	}
	return &Dispatcher{cfg: cfg, queue: make(chan dispatch, cfg.QueueSize),
		drops: newDrops(cfg.MeterProvider, "dispatcher"), done: make(chan struct{})}
}

// Hub returns the hub watchers of this replica subscribe to.
func (d *Dispatcher) Hub() *Hub { return d.cfg.Hub }

// Findings queues the findings of one scored batch of tenant. It never
// blocks; when the queue is full the findings are dropped and counted.
func (d *Dispatcher) Findings(tenant string, fs []*iamsentryv1.Finding) {
	if len(fs) > 0 {
		d.enqueue(dispatch{tenant: tenant, findings: fs}, len(fs))
	}
}

// Stories queues the attack stories one scored batch created or changed,
// for the sinks and the Watch calls that take story updates. Call it after
// Findings for the same batch, so story updates follow their findings. It
// never blocks.
func (d *Dispatcher) Stories(tenant string, sts []story.Story) {
	if len(sts) > 0 {
		d.enqueue(dispatch{tenant: tenant, stories: sts}, len(sts))
	}
}

// Invalid queues notices of records an ingest path could not score, for the
// sinks (watchers see findings only).
func (d *Dispatcher) Invalid(tenant string, inv []Invalid) {
	if len(inv) > 0 {
		d.enqueue(dispatch{tenant: tenant, invalid: inv}, len(inv))
	}
}

func (d *Dispatcher) enqueue(x dispatch, n int) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		d.drops.add(DropQueueFull, n)
		return
	}
	select {
	case d.queue <- x:
	default:
		d.drops.add(DropQueueFull, n)
	}
}

// Run dispatches until Close, and runs the bus's subscription until ctx
// ends.
func (d *Dispatcher) Run(ctx context.Context) {
	defer close(d.done)
	if d.cfg.Bus != nil {
		go func() {
			if err := d.cfg.Bus.Run(ctx, d.cfg.Hub); err != nil {
				d.cfg.Logger.Error("Watch fan-out stopped", slog.Any("error", err))
			}
		}()
	}
	for x := range d.queue {
		d.dispatch(ctx, x)
	}
}

func (d *Dispatcher) dispatch(ctx context.Context, x dispatch) {
	if len(x.findings) > 0 {
		if d.cfg.Bus == nil {
			for _, f := range x.findings {
				d.cfg.Hub.Deliver(x.tenant, f)
			}
		} else {
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
			if err := d.cfg.Bus.Publish(pctx, x.tenant, x.findings); err != nil {
				d.cfg.Logger.Warn("Watch fan-out: findings not published; watchers miss them (sinks still get them)",
					slog.Int("findings", len(x.findings)), slog.Any("error", err))
			}
			cancel()
		}
	}
	if len(x.stories) > 0 {
		d.watchStories(ctx, x)
	}
	for _, s := range d.cfg.Sinks {
		for _, f := range x.findings {
			s.Send(Item{Tenant: x.tenant, Finding: f})
		}
		if _, ok := s.(StorySink); ok {
			for i := range x.stories {
				s.Send(Item{Tenant: x.tenant, Story: &x.stories[i]})
			}
		}
		for i := range x.invalid {
			s.Send(Item{Tenant: x.tenant, Invalid: &x.invalid[i]})
		}
	}
}

// Close stops taking work, dispatches what is queued, and closes the sinks,
// giving them until ctx ends to flush. Run must have been started.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.queue)
	}
	d.mu.Unlock()
	select {
	case <-d.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	var errs []error
	for _, s := range d.cfg.Sinks {
		errs = append(errs, s.Close(ctx))
	}
	return errors.Join(errs...)
}

// watchStories hands a batch's story updates to the watchers of every
// replica: through the bus when it carries stories, to this replica's Hub
// when there is no bus. A bus that predates stories carries none, and its
// watchers see findings only.
func (d *Dispatcher) watchStories(ctx context.Context, x dispatch) {
	sts := make([]*iamsentryv1.Story, len(x.stories))
	for i := range x.stories {
		sts[i] = StoryProto(&x.stories[i])
	}
	switch bus := d.cfg.Bus.(type) {
	case nil:
		for _, st := range sts {
			d.cfg.Hub.DeliverStory(x.tenant, st)
		}
	case StoryBus:
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
		defer cancel()
		if err := bus.PublishStories(pctx, x.tenant, sts); err != nil {
			d.cfg.Logger.Warn("Watch fan-out: story updates not published; watchers miss them (sinks still get them)",
				slog.Int("stories", len(sts)), slog.Any("error", err))
		}
	}
}
