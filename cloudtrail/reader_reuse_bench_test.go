package cloudtrail

// releaseEvery is a Reader driven as scan drives it: its items in batches
// of n, each batch released once scored, so the Reader reads into buffers
// it, or the Reader of the previous file, used before (BenchmarkReader's
// scanner-release).
type releaseEvery struct {
	*Reader
	n, read int
}

func (r *releaseEvery) Next() (Item, error) {
	if r.read++; r.read%r.n == 0 {
		r.Release()
	}
	it, err := r.Reader.Next()
	if err != nil {
		r.Release() // the end: the Reader's buffers go back to the pool
	}
	return it, err
}
