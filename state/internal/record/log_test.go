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

// stored is a record as a store holds it: what EncodeWrite's writes make
// of its bytes (SET, or SETRANGE of the version and APPEND).
type stored struct{ b []byte }

func (s *stored) write(t *testing.T, w record.Write, version [record.VersionSize]byte) {
	t.Helper()
	if !w.Append {
		s.b = append([]byte(nil), w.Data...)
		if w.PXAT == 0 {
			t.Fatal("a whole record written without an expiry")
		}
		return
	}
	if len(s.b) < record.VersionSize {
		t.Fatal("an append to a record that is not stored")
	}
	copy(s.b, version[:])
	if w.Format != 0 {
		s.b[record.VersionSize] = w.Format
	}
	s.b = append(s.b, w.Data...)
}

// TestLogAppendsChanges: a record past LogThreshold is written once whole,
// then as the entries a write changed, appended; the stored bytes decode
// to a record answering every read as the one written.
func TestLogAppendsChanges(t *testing.T) {
	r := &record.Record{}
	fill(t, r, 60)
	var s stored
	w := r.EncodeWrite([record.VersionSize]byte{1}, now)
	if w.Append || len(w.Data) < record.LogThreshold || w.Data[record.VersionSize] != 5 {
		t.Fatalf("first write: append %v, %d bytes, format %d; want the whole record (>= %d B) in format 5", w.Append, len(w.Data), w.Data[record.VersionSize], record.LogThreshold)
	}
	s.write(t, w, [record.VersionSize]byte{1})
	whole := len(w.Data)
	for i := range 5 {
		v := [record.VersionSize]byte{byte(2 + i)}
		r.Apply(&state.PutOp{Key: key(fmt.Sprint("v", i)), Value: []byte(fmt.Sprint("changed", i)), TTL: time.Hour}, now)
		w := r.EncodeWrite(v, now)
		if !w.Append || len(w.Data) > 64 {
			t.Fatalf("write %d of one value: append %v, %d bytes; want a segment of it alone", i, w.Append, len(w.Data))
		}
		s.write(t, w, v)
		got, err := record.Decode(s.b, now)
		if err != nil {
			t.Fatalf("Decode after %d appends: %v", i+1, err)
		}
		if want := reads(r, 60); !reflect.DeepEqual(reads(got, 60), want) {
			t.Fatalf("after %d appends the stored record reads otherwise than the one written", i+1)
		}
		if ver, _ := record.Version(s.b); ver != v {
			t.Fatalf("version %x after append, want %x", ver, v)
		}
	}
	if len(s.b) >= whole+5*64 {
		t.Errorf("stored %d bytes after 5 one-value appends to %d", len(s.b), whole)
	}
}

// TestLogLaterCopyWins: an entry rewritten with a shorter TTL is gone once
// that TTL passed, though its earlier copy in the log would still be live.
func TestLogLaterCopyWins(t *testing.T) {
	r := &record.Record{}
	fill(t, r, 60)
	r.Apply(&state.PutOp{Key: key("long"), Value: []byte("old"), TTL: 48 * time.Hour}, now)
	var s stored
	s.write(t, r.EncodeWrite([record.VersionSize]byte{1}, now), [record.VersionSize]byte{1})
	r.Apply(&state.PutOp{Key: key("long"), Value: []byte("new"), TTL: 2 * time.Hour}, now)
	w := r.EncodeWrite([record.VersionSize]byte{2}, now)
	if !w.Append {
		t.Fatal("one value changed: written whole, want appended")
	}
	s.write(t, w, [record.VersionSize]byte{2})
	for _, c := range []struct {
		after time.Duration
		want  string
	}{{time.Hour, "new"}, {3 * time.Hour, ""}} {
		later := now + int64(c.after)
		got, err := record.Decode(s.b, later)
		if err != nil {
			t.Fatal(err)
		}
		op := &state.GetOp{Key: key("long")}
		res, _ := got.Apply(op, later)
		res.Resolve(op)
		if v, _ := op.Result.Get(); string(v) != c.want {
			t.Errorf("%v later: got %q, want %q (the later copy's)", c.after, v, c.want)
		}
	}
}

// TestLogCompacts: appends stop once the superseded bytes pass half the
// live ones; the record is then written whole, and the bytes stored stay
// within 1.5 times the live ones plus a write.
func TestLogCompacts(t *testing.T) {
	r := &record.Record{}
	fill(t, r, 60)
	var s stored
	w := r.EncodeWrite([record.VersionSize]byte{1}, now)
	s.write(t, w, [record.VersionSize]byte{1})
	live := len(w.Data)
	appends, wholes := 0, 0
	for i := range 400 {
		v := [record.VersionSize]byte{byte(i), byte(i >> 8), 1}
		r.Apply(&state.MarkOp{Key: key(fmt.Sprint("k", i%60)), At: at.Add(time.Duration(i+1) * time.Second), TTL: time.Hour}, now)
		w := r.EncodeWrite(v, now)
		if w.Append {
			appends++
		} else {
			wholes++
		}
		s.write(t, w, v)
		if len(s.b) > live+live/2+64 {
			t.Fatalf("write %d: %d bytes stored for about %d live", i, len(s.b), live)
		}
	}
	if wholes == 0 || appends < 10*wholes {
		t.Errorf("%d appends, %d whole writes: want compaction now and then, appends mostly", appends, wholes)
	}
	got, err := record.Decode(s.b, now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(reads(got, 60), reads(r, 60)) {
		t.Error("after compactions the stored record reads otherwise than the one written")
	}
}

// TestSmallRecordRewritten: a record under LogThreshold is written whole
// every time, in format 3, as before the log format.
func TestSmallRecordRewritten(t *testing.T) {
	r := &record.Record{}
	fill(t, r, 2)
	for i := range 3 {
		r.Apply(&state.PutOp{Key: key("v0"), Value: []byte(fmt.Sprint(i)), TTL: time.Hour}, now)
		w := r.EncodeWrite([record.VersionSize]byte{byte(i)}, now)
		if w.Append || w.Data[record.VersionSize] != 3 || w.PXAT == 0 {
			t.Fatalf("write %d: append %v, format %d, pxat %d; want whole, format 3, an expiry", i, w.Append, w.Data[record.VersionSize], w.PXAT)
		}
	}
}

// TestLogCorrupt: a truncated segment, or a repeated name outside the log
// format, is an error wrapping ErrCorrupt, never a panic.
func TestLogCorrupt(t *testing.T) {
	r := &record.Record{}
	fill(t, r, 60)
	var s stored
	s.write(t, r.EncodeWrite([record.VersionSize]byte{1}, now), [record.VersionSize]byte{1})
	r.Apply(&state.PutOp{Key: key("v1"), Value: []byte("changed"), TTL: time.Hour}, now)
	s.write(t, r.EncodeWrite([record.VersionSize]byte{2}, now), [record.VersionSize]byte{2})
	for cut := 1; cut < 12; cut++ {
		if _, err := record.Decode(s.b[:len(s.b)-cut], now); !errors.Is(err, record.ErrCorrupt) {
			t.Errorf("cut %d bytes: %v, want ErrCorrupt", cut, err)
		}
	}
	as3 := append([]byte(nil), s.b...)
	as3[record.VersionSize] = 3
	if _, err := record.Decode(as3, now); !errors.Is(err, record.ErrCorrupt) {
		t.Errorf("format 3 with a name repeated: %v, want ErrCorrupt", err)
	}
}

// FuzzDecodeLog: bytes in the log format decode to a record or to an
// error wrapping ErrCorrupt, never a panic; what decodes encodes, whole
// or as an append, and decodes again.
func FuzzDecodeLog(f *testing.F) {
	r := &record.Record{}
	fill(&testing.T{}, r, 60)
	var s stored
	s.write(&testing.T{}, r.EncodeWrite([record.VersionSize]byte{1}, now), [record.VersionSize]byte{1})
	f.Add(append([]byte(nil), s.b...))
	r.Apply(&state.PutOp{Key: key("v1"), Value: []byte("changed"), TTL: time.Hour}, now)
	s.write(&testing.T{}, r.EncodeWrite([record.VersionSize]byte{2}, now), [record.VersionSize]byte{2})
	f.Add(s.b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r := decodeOrCorrupt(t, b)
		if r == nil {
			return
		}
		r.Apply(&state.PutOp{Key: key("v1"), Value: []byte("fuzz"), TTL: time.Hour}, 0)
		w := r.EncodeWrite([record.VersionSize]byte{3}, 0)
		again := w.Data
		if w.Append {
			again = append(append([]byte(nil), b...), w.Data...)
		}
		if _, err := record.Decode(again, 0); err != nil {
			t.Fatalf("re-encoding of a decoded record does not decode: %v", err)
		}
	})
}

// decodeOrCorrupt decodes b, and returns nil when it is not a record: an
// error that must wrap ErrCorrupt.
func decodeOrCorrupt(t *testing.T, b []byte) *record.Record {
	t.Helper()
	r, err := record.Decode(b, 0)
	if err != nil && !errors.Is(err, record.ErrCorrupt) {
		t.Fatalf("error %v does not wrap ErrCorrupt", err)
	}
	return r
}

// TestFormat3Upgraded: a record of format 3 past LogThreshold, as written
// before the log format, decodes, and its next write rewrites it whole in
// format 5 (an append to format 3 bytes would not decode); the write after
// that appends.
func TestFormat3Upgraded(t *testing.T) {
	r := &record.Record{}
	fill(t, r, 60)
	b := r.EncodeWrite([record.VersionSize]byte{1}, now).Data
	b[record.VersionSize] = 3 // one segment of format 5 is format 3's layout
	got, err := record.Decode(b, now)
	if err != nil {
		t.Fatal(err)
	}
	var s stored
	s.b = b
	for i, wantAppend := range []bool{false, true} {
		got.Apply(&state.PutOp{Key: key("v1"), Value: []byte(fmt.Sprint("changed", i)), TTL: time.Hour}, now)
		v := [record.VersionSize]byte{byte(2 + i)}
		w := got.EncodeWrite(v, now)
		if w.Append != wantAppend {
			t.Fatalf("write %d: append %v, want %v", i, w.Append, wantAppend)
		}
		s.write(t, w, v)
		if s.b[record.VersionSize] != 5 {
			t.Fatalf("write %d: format %d, want 5", i, s.b[record.VersionSize])
		}
	}
	again, err := record.Decode(s.b, now)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(reads(again, 60), reads(got, 60)) {
		t.Error("the upgraded record reads otherwise than the one written")
	}
}
