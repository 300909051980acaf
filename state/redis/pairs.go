package redis

import (
	"cmp"

	"github.com/iamsentry/iamsentry/state"
)

// pair is a window pair being run as the WindowAddReads of its halves.
type pair struct {
	op     *state.WindowPairAddReadOp
	halves [2]state.WindowAddReadOp
}

// splitPairs returns ops with each state.WindowPairAddReadOp replaced by
// the WindowAddReadOps of its halves, on the windowed sets
// state.PairHalf names, and the pairs to resolve from them (resolvePairs)
// once they ran. Both layouts run the operations of one identity as one
// atomic step (one record, one group script), so the pair stays one; and
// the halves are the sets access-key-enumeration kept before pairs
// existed, as two WindowAddReads of the same keys, so neither layout
// changes, and replicas of either version read each other's windows.
// ops is returned as it is when it holds no pair.
func splitPairs(ops []state.Op) ([]state.Op, []pair) {
	n := 0
	for _, op := range ops {
		if _, ok := op.(*state.WindowPairAddReadOp); ok {
			n++
		}
	}
	if n == 0 {
		return ops, nil
	}
	pairs := make([]pair, 0, n)
	out := make([]state.Op, 0, len(ops)+n)
	for _, op := range ops {
		o, ok := op.(*state.WindowPairAddReadOp)
		if !ok {
			out = append(out, op)
			continue
		}
		pairs = append(pairs, pair{op: o})
		p := &pairs[len(pairs)-1]
		for h := range p.halves {
			p.halves[h] = state.WindowAddReadOp{Key: state.PairHalf(o.Key, h), Member: o.Members[h], At: o.At,
				Span: o.Spans[h], Limit: o.Limit, TTL: o.TTL}
			out = append(out, &p.halves[h])
		}
	}
	return out, pairs
}

// resolvePairs resolves each pair's future from its halves': the windows,
// or the first error either met.
func resolvePairs(pairs []pair) {
	for i := range pairs {
		p := &pairs[i]
		w0, err0 := p.halves[0].Result.Get()
		w1, err1 := p.halves[1].Result.Get()
		if err := cmp.Or(err0, err1); err != nil {
			p.op.Result.Resolve([2]state.Window{}, err)
			continue
		}
		p.op.Result.Resolve([2]state.Window{w0, w1}, nil)
	}
}
