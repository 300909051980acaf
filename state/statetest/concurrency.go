package statetest

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// Sizes of the concurrency rules: enough goroutines and operations to make
// a lost update likely under -race, few enough for a remote backend.
const (
	workers   = 16
	perWorker = 200
	batchSize = 20
)

func concurrencyRules() group {
	return group{name: "Concurrency", rules: []rule{
		{"NoLostAdds", "concurrent batches on the same keys lose no adds and count each member once", concurrentAdds},
		{"OneWinner", "concurrent Claims and Throttles on one key have exactly one winner", concurrentWinners},
	}}
}

// fanOut runs work on every worker at once and waits for all of them.
// Workers report through errorf: t.Fatal may not run off the test goroutine.
func fanOut(work func(w int)) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { work(w) })
	}
	wg.Wait()
}

func concurrentAdds(c *check) {
	wk, bk, nk := c.key("win"), c.key("bkt"), c.key("nov")
	s := span(base, base.Add(time.Hour))
	var news atomic.Int64
	fanOut(func(w int) {
		for j := 0; j < perWorker; j += batchSize {
			n, ok := addBatch(c, w, j, wk, bk, nk, s)
			news.Add(n)
			if !ok {
				return
			}
		}
	})
	total := workers * perWorker
	if got := windowRead(c, wk, s, 0); got.Count != total {
		c.errorf("window count after %d concurrent distinct adds = %d", total, got.Count)
	}
	if got := bucketRead(c, bk, base, time.Hour, 1); !slices.Equal(got, []int{total}) {
		c.errorf("bucket counts after %d concurrent distinct adds = %v", total, got)
	}
	if n := news.Load(); n != perWorker {
		c.errorf("%d workers adding the same %d novelty members saw %d New, want %d", workers, perWorker, n, perWorker)
	}
}

// addBatch executes worker w's members [j, j+batchSize) as one batch: each
// goes to the window and bucket keys under a name of w's own, and to the
// novelty key under a name every worker shares. It returns how many novelty
// adds were New and whether the batch executed.
func addBatch(c *check, w, j int, wk, bk, nk state.Key, s state.Span) (int64, bool) {
	var b state.Batch
	var novs []*state.Future[state.Novelty]
	for i := j; i < j+batchSize; i++ {
		m := fmt.Sprintf("w%02d-m%03d", w, i)
		b.WindowAdd(wk, m, base.Add(time.Duration(i)*time.Second), s, hour)
		b.BucketAdd(bk, m, base, time.Hour, 1, 2*hour)
		novs = append(novs, b.NoveltyAdd(nk, fmt.Sprintf("m%03d", i), base, hour))
	}
	if err := c.tryExec(&b); err != nil {
		c.errorf("worker %d: Exec: %v", w, err)
		return 0, false
	}
	var news int64
	for _, f := range novs {
		if n, err := f.Get(); err != nil {
			c.errorf("worker %d: NoveltyAdd: %v", w, err)
		} else if n.New {
			news++
		}
	}
	return news, true
}

func concurrentWinners(c *check) {
	const keys = 50
	var firsts [keys]atomic.Int64
	var throttled atomic.Int64
	tk := c.key("throttle")
	fanOut(func(w int) {
		var b state.Batch
		claims := make([]*state.Future[state.Claimed], keys)
		for i := range claims {
			claims[i] = b.Claim(c.key(fmt.Sprintf("evt-%d", i)), []byte{byte(w)}, hour)
		}
		thr := b.Throttle(tk, fmt.Sprintf("owner-%d", w), hour)
		if err := c.tryExec(&b); err != nil {
			c.errorf("worker %d: Exec: %v", w, err)
			return
		}
		for i, f := range claims {
			if cl, err := f.Get(); err == nil && cl.First {
				firsts[i].Add(1)
			}
		}
		if ok, err := thr.Get(); err == nil && ok {
			throttled.Add(1)
		}
	})
	for i := range firsts {
		if n := firsts[i].Load(); n != 1 {
			c.errorf("key evt-%d claimed First by %d of %d workers, want 1", i, n, workers)
		}
	}
	if n := throttled.Load(); n != 1 {
		c.errorf("throttle taken by %d of %d owners, want 1", n, workers)
	}
}
