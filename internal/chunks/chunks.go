// Package chunks hands out values of one type carved from chunks of them:
// one allocation per chunk rather than one per value, for values that
// live as long as a batch does (a state batch's operations, the
// evaluations of a batch's events), and the chunks taken back, cleared,
// for the next batch once nothing reads the values any more.
package chunks

// Chunks is where the next values of one type come from. The zero Chunks
// is ready to use; a Chunks is not safe for concurrent use.
type Chunks[T any] struct {
	// cur is the current chunk, and used how many of its values were
	// handed out: a count moved on, where moving a slice of the values
	// left stored a pointer into the heap (with the collector's write
	// barrier) for every value.
	cur   []T
	used  int
	taken [][]T // the chunks values were handed out from since the last Forget or Recycle
	spare [][]T // chunks Recycle took back, cleared, for the next values
	made  int   // fresh chunks made
}

// Next returns a pointer to a zero T: the next value of the current
// chunk, which comes zeroed from make or from Recycle, so the caller sets
// the fields it needs in place rather than building a value and copying
// it in. When the chunk is used up, Next starts the next one: a spare
// one, the largest first, or a fresh one of size values (at least one).
func (c *Chunks[T]) Next(size int) *T {
	if c.used == len(c.cur) {
		c.refill(size)
	}
	p := &c.cur[c.used]
	c.used++
	return p
}

func (c *Chunks[T]) refill(size int) {
	if n := len(c.spare); n > 0 {
		c.cur, c.spare[n-1] = c.spare[n-1], nil
		c.spare = c.spare[:n-1]
	} else {
		c.cur = make([]T, max(size, 1))
		c.made++
	}
	c.used = 0
	c.taken = append(c.taken, c.cur)
}

// Made is how many fresh chunks Next made: a caller whose chunks double
// one after another sizes the next by it.
func (c *Chunks[T]) Made() int { return c.made }

// Forget leaves the chunks values were handed out from to whoever holds
// the values: they stay valid, and the next values come from other
// chunks.
func (c *Chunks[T]) Forget() {
	clear(c.taken)
	c.taken, c.cur, c.used = c.taken[:0], nil, 0
}

// Recycle clears the chunks values were handed out from and keeps them
// for the next values, in the order they were taken, so that the largest
// (the last) is used first: every value handed out before is invalid from
// then on, and may change.
func (c *Chunks[T]) Recycle() {
	for i, ch := range c.taken {
		clear(ch)
		c.spare = append(c.spare, ch)
		c.taken[i] = nil
	}
	c.taken, c.cur, c.used = c.taken[:0], nil, 0
}
