package record_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/internal/record"
)

// windowOp adds member i to an inline window of a log-format record.
func windowOp(i int) state.Op {
	t := at.Add(time.Duration(i) * 90 * time.Second) // an hour holds 40: the window stays inline
	return &state.WindowAddOp{Key: key("w0"), Member: fmt.Sprintf("ListBuckets:%04d", i), At: t,
		Count: state.Span{From: t.Add(-time.Hour), To: t}, TTL: time.Hour}
}

// TestLogDeltas: in a record past LogThreshold, a write that adds one
// member to a window of dozens appends that member (a delta, the record
// becoming format 7), not the window; the stored bytes read as the record
// written; a whole rewrite makes it format 5 again.
func TestLogDeltas(t *testing.T) {
	r := &record.Record{}
	fill(t, r, 60)
	for i := range 30 {
		r.Apply(windowOp(i), now)
	}
	var s stored
	s.write(t, r.EncodeWrite([record.VersionSize]byte{1}, now), [record.VersionSize]byte{1})
	if f := s.b[record.VersionSize]; f != 5 {
		t.Fatalf("first write in format %d, want 5", f)
	}
	wholes := 0
	for i := 30; i < 200; i++ {
		r.Apply(windowOp(i), now)
		v := [record.VersionSize]byte{byte(i), 1}
		w := r.EncodeWrite(v, now)
		s.write(t, w, v)
		switch {
		case !w.Append:
			wholes++
			if f := s.b[record.VersionSize]; f != 5 {
				t.Fatalf("step %d: rewritten whole in format %d, want 5", i, f)
			}
		case len(w.Data) > 64: // the member added and the trim of one dropped
			t.Fatalf("step %d: a segment of %d bytes for one member of a window", i, len(w.Data))
		case s.b[record.VersionSize] != 7:
			t.Fatalf("step %d: format %d after a delta, want 7", i, s.b[record.VersionSize])
		}
		got, err := record.Decode(s.b, now)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		read := func(r *record.Record) any {
			op := &state.WindowReadOp{Key: key("w0"), Span: state.Span{From: at.Add(-time.Hour), To: at.Add(time.Hour)}, Limit: 1000}
			res, _ := r.Apply(op, now)
			res.Resolve(op)
			w, err := op.Result.Get()
			return fmt.Sprint(w, err)
		}
		if read(got) != read(r) || !reflect.DeepEqual(reads(got, 60), reads(r, 60)) {
			t.Fatalf("step %d: the stored record reads otherwise than the one written", i)
		}
	}
	if wholes == 0 || wholes > 20 {
		t.Errorf("%d whole rewrites in 170 one-member writes", wholes)
	}
}

// TestLogDeltaCorrupt: a delta in a record not in format 7, or of an entry
// the record does not hold before it, is an error wrapping ErrCorrupt.
func TestLogDeltaCorrupt(t *testing.T) {
	r := &record.Record{}
	fill(t, r, 60)
	r.Apply(windowOp(0), now)
	var s stored
	s.write(t, r.EncodeWrite([record.VersionSize]byte{1}, now), [record.VersionSize]byte{1})
	r.Apply(windowOp(1), now)
	w := r.EncodeWrite([record.VersionSize]byte{2}, now)
	if !w.Append || w.Format != 7 {
		t.Fatalf("append %v, format %d: want a delta", w.Append, w.Format)
	}
	as5 := append(append([]byte(nil), s.b...), w.Data...)
	if _, err := record.Decode(as5, now); !errors.Is(err, record.ErrCorrupt) {
		t.Errorf("a delta in format 5: %v, want ErrCorrupt", err)
	}
	s.write(t, w, [record.VersionSize]byte{2})
	if _, err := record.Decode(s.b, now); err != nil {
		t.Fatal(err)
	}
	orphan := append([]byte(nil), s.b...)
	seg := len(orphan) - len(w.Data)
	orphan[seg+1] ^= 0xff // the delta's name: an entry not held
	if _, err := record.Decode(orphan, now); !errors.Is(err, record.ErrCorrupt) {
		t.Errorf("a delta of an entry not held: %v, want ErrCorrupt", err)
	}
	for cut := 1; cut < len(w.Data); cut++ {
		if _, err := record.Decode(s.b[:len(s.b)-cut], now); !errors.Is(err, record.ErrCorrupt) {
			t.Errorf("cut %d bytes into the delta: %v, want ErrCorrupt", cut, err)
		}
	}
}

// FuzzDecodeDelta: bytes in format 7 decode to a record or to an error
// wrapping ErrCorrupt, never a panic; what decodes takes another delta,
// and the bytes with it appended decode again.
func FuzzDecodeDelta(f *testing.F) {
	r := &record.Record{}
	fill(&testing.T{}, r, 60)
	r.Apply(windowOp(0), now)
	var s stored
	s.write(&testing.T{}, r.EncodeWrite([record.VersionSize]byte{1}, now), [record.VersionSize]byte{1})
	for i := 1; i < 4; i++ {
		r.Apply(windowOp(i), now)
		s.write(&testing.T{}, r.EncodeWrite([record.VersionSize]byte{byte(1 + i)}, now), [record.VersionSize]byte{byte(1 + i)})
	}
	f.Add(append([]byte(nil), s.b...))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := decodeOrCorrupt(t, b)
		if r == nil {
			return
		}
		r.Apply(windowOp(9), 0)
		w := r.EncodeWrite([record.VersionSize]byte{9}, 0)
		again := append([]byte(nil), w.Data...)
		if w.Append {
			again = append(append([]byte(nil), b...), w.Data...)
			if w.Format != 0 {
				again[record.VersionSize] = w.Format
			}
		}
		if _, err := record.Decode(again, 0); err != nil {
			t.Fatalf("a decoded record with one more write does not decode: %v", err)
		}
	})
}
