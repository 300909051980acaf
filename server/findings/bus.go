package findings

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// Bus carries findings to the Hub of every replica. A Dispatcher without a
// Bus delivers to its own Hub in-process, which is right for one replica.
type Bus interface {
	// Publish sends tenant's findings to every replica, this one included.
	// It is called from one goroutine at a time.
	Publish(ctx context.Context, tenant string, fs []*iamsentryv1.Finding) error
	// Run delivers what any replica publishes to hub until ctx ends.
	Run(ctx context.Context, hub *Hub) error
}

// RedisBus fans findings out through Redis pub/sub: Publish sends each
// finding, protobuf-encoded, on the channel <prefix>findings:<tenant>; Run
// holds one PSUBSCRIBE on <prefix>findings:* per replica and hands what
// arrives to the hub. Pub/sub is at most once: a replica cut off from Redis
// misses what is published meanwhile, which suits a live tail.
//
// On Redis Cluster, PUBLISH reaches subscribers on every node, so one
// subscription to any node sees every replica's findings.
//
// Story updates travel the same way on <prefix>stories:<tenant> (see
// PublishStories), so a replica that predates them ignores them.
type RedisBus struct {
	client      goredis.UniversalClient
	prefix      string
	storyPrefix string
	log         *slog.Logger

	ready     chan struct{}
	readyOnce sync.Once
}

var _ StoryBus = (*RedisBus)(nil)

// NewRedisBus returns a bus on client whose channels start with prefix (the
// deployment's key prefix, so deployments sharing a server stay apart).
func NewRedisBus(client goredis.UniversalClient, prefix string, log *slog.Logger) *RedisBus {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RedisBus{client: client, prefix: prefix + "findings:", storyPrefix: prefix + "stories:", log: log, ready: make(chan struct{})}
}

// StoryChannel returns the channel tenant's story updates travel on.
func (b *RedisBus) StoryChannel(tenant string) string {
	return b.storyPrefix + escapeTenant(tenant)
}

// Channel returns the channel tenant's findings travel on. The tenant is
// escaped so that a tenant can never be read as a pattern.
func (b *RedisBus) Channel(tenant string) string {
	return b.prefix + escapeTenant(tenant)
}

func escapeTenant(t string) string {
	r := strings.NewReplacer("%", "%25", "*", "%2A", "?", "%3F", "[", "%5B", "]", "%5D", "\\", "%5C")
	return r.Replace(t)
}

func unescapeTenant(t string) string {
	r := strings.NewReplacer("%2A", "*", "%3F", "?", "%5B", "[", "%5D", "]", "%5C", "\\", "%25", "%")
	return r.Replace(t)
}

// Publish implements Bus: one pipeline for the whole slice.
func (b *RedisBus) Publish(ctx context.Context, tenant string, fs []*iamsentryv1.Finding) error {
	return publish(ctx, b.client, b.Channel(tenant), fs)
}

// PublishStories implements StoryBus: one pipeline for the whole slice.
func (b *RedisBus) PublishStories(ctx context.Context, tenant string, sts []*iamsentryv1.Story) error {
	return publish(ctx, b.client, b.StoryChannel(tenant), sts)
}

func publish[M proto.Message](ctx context.Context, client goredis.UniversalClient, ch string, ms []M) error {
	pipe := client.Pipeline()
	for _, m := range ms {
		msg, err := proto.Marshal(m)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", m.ProtoReflect().Descriptor().Name(), err)
		}
		pipe.Publish(ctx, ch, msg)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis publish on %s: %w", ch, err)
	}
	return nil
}

// Run implements Bus. It waits for Redis to confirm the subscription
// (retrying while Redis is down), then delivers until ctx ends; go-redis
// resubscribes after a lost connection.
func (b *RedisBus) Run(ctx context.Context, hub *Hub) error {
	// One PSUBSCRIBE for both patterns: Redis registers them together, so
	// the first confirmation means both are in place.
	ps := b.client.PSubscribe(ctx, b.prefix+"*", b.storyPrefix+"*")
	defer ps.Close()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		_, err := ps.Receive(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		b.log.Warn("Watch fan-out: Redis subscription failed; retrying", slog.Any("error", err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
	b.readyOnce.Do(func() { close(b.ready) })
	msgs := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-msgs:
			if !ok {
				return errors.New("redis subscription closed")
			}
			b.deliver(hub, m)
		}
	}
}

// Ready is closed once Run's subscription is confirmed: findings published
// by any replica from then on reach this one.
func (b *RedisBus) Ready() <-chan struct{} { return b.ready }

// deliver hands one pub/sub message, a finding or a story update, to hub.
func (b *RedisBus) deliver(hub *Hub, m *goredis.Message) {
	if t, ok := strings.CutPrefix(m.Channel, b.storyPrefix); ok {
		st := &iamsentryv1.Story{}
		if err := proto.Unmarshal([]byte(m.Payload), st); err != nil {
			b.log.Warn("undecodable story on the Watch channel; skipped", slog.String("channel", m.Channel), slog.Any("error", err))
			return
		}
		hub.DeliverStory(unescapeTenant(t), st)
		return
	}
	f := &iamsentryv1.Finding{}
	if err := proto.Unmarshal([]byte(m.Payload), f); err != nil {
		b.log.Warn("undecodable finding on the Watch channel; skipped", slog.String("channel", m.Channel), slog.Any("error", err))
		return
	}
	hub.Deliver(unescapeTenant(strings.TrimPrefix(m.Channel, b.prefix)), f)
}
