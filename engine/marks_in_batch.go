package engine

import (
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// shareMarks shows the marks fs will set (detectors.Finding.Marks, written
// in settle's round trip) to the records after theirs in the batch, as a
// later batch would see them: a detector reading such a mark (a drip that
// a burst already raised is that burst's tail) must decide the same
// whether the finding that set it came in its batch or an earlier one.
//
// The batch's mark operations on each key already ran; their answers are
// merged with the mark as the store would merge it. Records are evaluated
// in order and a detector reads its answers while its record is evaluated,
// so changing an answer now reaches only the records after fs's: an
// answer shared with an earlier record (detectors.ReadMark) was read
// already.
func (s *scoring) shareMarks(fs []detectors.Finding) {
	for i := range fs {
		for _, m := range fs[i].Marks {
			for op := range s.first.OnKey(m.Key) {
				var f *state.Future[state.Mark]
				switch o := op.(type) {
				case *state.ReadMarkOp:
					f = &o.Result
				case *state.MarkOp:
					f = &o.Result // the mark before it ran
				default:
					continue
				}
				if v, err := f.Get(); err == nil {
					f.Resolve(withMark(v, m), nil)
				}
			}
		}
	}
}

// withMark is v once m is set on its key.
func withMark(v state.Mark, m detectors.SetMark) state.Mark {
	if !v.Set || (m.Keep == state.KeepLatest && m.At.After(v.At)) ||
		(m.Keep == state.KeepEarliest && m.At.Before(v.At)) {
		return state.Mark{Set: true, At: m.At}
	}
	return v
}
