package server

import (
	"context"
	"sync"
)

// Read-ahead defaults. A Score stream reads requests ahead of the ones
// being answered (up to MaxInFlight) so batches fill; these bound what
// that holds in bytes, since MaxInFlight requests of MaxRecvMsgSize each
// would be a gigabyte for one stream that never reads its answers.
const (
	DefaultReadAheadBytes = 16 << 20  // per stream
	DefaultReadAheadTotal = 256 << 20 // for the process
)

// byteBudget is a count of bytes held, with a limit that acquire waits
// for. A holder with nothing held is always let in, however large its
// request, so one message over the limit still moves.
type byteBudget struct {
	mu    sync.Mutex
	limit int
	used  int
	// freed is closed at the next release; made only when an acquire has
	// to wait, so a budget never full costs no channel per request.
	freed chan struct{}
}

func newByteBudget(limit int) *byteBudget {
	return &byteBudget{limit: limit}
}

// acquire waits until n bytes fit, or ctx ends.
func (b *byteBudget) acquire(ctx context.Context, n int) error {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.limit {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		if b.freed == nil {
			b.freed = make(chan struct{})
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *byteBudget) release(n int) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	if b.freed != nil {
		close(b.freed)
		b.freed = nil
	}
	b.mu.Unlock()
}

// readAhead is one stream's share of the read-ahead: its own budget and
// the process's.
type readAhead struct {
	stream, process *byteBudget
}

func (r readAhead) acquire(ctx context.Context, n int) error {
	if err := r.stream.acquire(ctx, n); err != nil {
		return err
	}
	if err := r.process.acquire(ctx, n); err != nil {
		r.stream.release(n)
		return err
	}
	return nil
}

func (r readAhead) release(n int) {
	r.process.release(n)
	r.stream.release(n)
}
