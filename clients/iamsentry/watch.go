package iamsentry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// Story is an attack story: the findings of one actor chain, with its
// stages, identities and a severity of its own. A Watch hands one out each
// time a story is created or changed, whole; keep the latest per Id, and
// drop the stories its Supersedes names.
type Story = iamsentryv1.Story

// WatchRequest selects what a Watch sends: findings, story updates or both
// (Content; the zero value is findings only), at or above MinSeverity, of
// some detectors (DetectorIds, findings only), suppressed findings too
// (IncludeSuppressed).
type WatchRequest = iamsentryv1.WatchRequest

// WatchContent is WatchRequest.Content.
type WatchContent = iamsentryv1.WatchContent

// What a Watch sends; the zero WatchContent is WatchFindings.
const (
	WatchFindings           = iamsentryv1.WatchContent_WATCH_CONTENT_FINDINGS
	WatchStories            = iamsentryv1.WatchContent_WATCH_CONTENT_STORIES
	WatchFindingsAndStories = iamsentryv1.WatchContent_WATCH_CONTENT_FINDINGS_AND_STORIES
)

// Update is one message of a Watch: a finding or a story update.
type Update struct {
	Finding *Finding // set for a finding
	Story   *Story   // set for a story update; it follows the findings that changed it

	// Dropped counts the updates the server discarded before this one
	// because the watcher read too slowly.
	Dropped uint64
	// Resumed is set on the first update after the Watch reopened its call
	// (the server ended it: its maximum connection age, a replica shutting
	// down, a lost connection). Updates raised while it was reopening are
	// missing: Watch is a live tail, not a queue.
	Resumed bool
}

// Watch tails the findings and story updates every replica raises from now
// on (see the Watch RPC). One goroutine calls Recv; Close may be called
// from any goroutine.
type Watch struct {
	c       *Client
	ctx     context.Context
	cancel  context.CancelCauseFunc
	req     *WatchRequest
	call    grpc.ServerStreamingClient[iamsentryv1.WatchResponse]
	resumed bool
	err     error // terminal
}

// Watch opens a Watch with req (nil: findings only, every severity) and
// returns once the server has subscribed it, so nothing raised afterwards
// is missed. When the server ends the call (its maximum connection age, a
// shutdown, a lost connection) Recv reopens it with backoff, on the next
// replica with round_robin, until ctx ends or, with WithGiveUpAfter, the
// service has not answered for that long. A request the server refuses
// (INVALID_ARGUMENT: an unknown severity or content) fails Watch.
func (c *Client) Watch(ctx context.Context, req *WatchRequest) (*Watch, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if req == nil {
		req = &WatchRequest{}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	w := &Watch{c: c, ctx: ctx, cancel: cancel, req: req}
	if err := w.open(); err != nil {
		if err = w.reopen(err); err != nil {
			cancel(err)
			return nil, err
		}
	}
	return w, nil
}

// open starts the call and waits for its headers: the server sends them
// once the call is subscribed.
func (w *Watch) open() error {
	call, err := w.c.rpc.Watch(w.ctx, w.req)
	if err != nil {
		return err
	}
	md, err := call.Header()
	if err != nil {
		return err
	}
	if md == nil { // ended without headers: a refusal; Recv has the status
		if _, err := call.Recv(); err != nil {
			return err
		}
		return status.Error(codes.Internal, "watch answered before its headers")
	}
	w.call = call
	return nil
}

// Recv returns the next update. Its error is terminal: ctx ended, Close
// was called, the server refused the request, or reopening gave up
// (ErrGaveUp).
func (w *Watch) Recv() (Update, error) {
	for w.err == nil {
		resp, err := w.call.Recv()
		if err != nil {
			if w.err = w.reopen(err); w.err != nil {
				w.cancel(w.err)
			}
			w.resumed = w.err == nil
			continue
		}
		u := Update{Finding: resp.GetFinding(), Story: resp.GetStory(), Dropped: resp.GetDropped(), Resumed: w.resumed}
		if u.Finding == nil && u.Story == nil {
			continue // a kind of update this client does not know
		}
		w.resumed = false
		return u, nil
	}
	return Update{}, w.err
}

// Close ends the Watch, unblocking a Recv in progress; Recv returns
// ErrClosed from then on.
func (w *Watch) Close() { w.cancel(ErrClosed) }

// reopen handles err, which ended the call or kept it from opening, and
// reopens the call with backoff while that may help. It returns the
// terminal error otherwise.
func (w *Watch) reopen(err error) error {
	o := &w.c.opts
	var since time.Time
	for attempt := 1; ; attempt++ {
		if w.ctx.Err() != nil {
			return context.Cause(w.ctx)
		}
		if !watchResumable(err) {
			return fmt.Errorf("iamsentry: watch: %w", err)
		}
		if attempt == 1 {
			since = time.Now()
		}
		if o.giveUp > 0 && time.Since(since) > o.giveUp {
			return fmt.Errorf("%w after %v: %w", ErrGaveUp, o.giveUp, err)
		}
		delay := backoffDelay(o.backoffBase, o.backoffMax, attempt)
		o.logger.Warn("iamsentry watch ended; reopening", slog.Any("error", err), slog.Int("attempt", attempt), slog.Duration("delay", delay))
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-w.ctx.Done():
			t.Stop()
			return context.Cause(w.ctx)
		}
		if err = w.open(); err == nil {
			return nil
		}
	}
}

// watchResumable reports whether a Watch call that ended with err is worth
// reopening: the server went away (UNAVAILABLE: shutdown, maximum
// connection age, lost connection; or an end without status), not a
// refusal.
func watchResumable(err error) bool {
	if errors.Is(err, io.EOF) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Aborted:
		return true
	}
	return false
}
