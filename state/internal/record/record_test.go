package record_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/internal/record"
)

var (
	now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	at  = time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
)

func key(name string) state.Key { return state.Key{Tenant: "t", Identity: "i", Name: name} }

// fill applies n names' worth of writes of every kind to r.
func fill(t *testing.T, r *record.Record, n int) {
	t.Helper()
	for i := range n {
		ops := []state.Op{
			&state.WindowAddOp{Key: key(fmt.Sprint("w", i)), Member: fmt.Sprint("m", i), At: at, Count: state.Span{From: at.Add(-time.Hour), To: at}, TTL: time.Hour},
			&state.NoveltyAddOp{Key: key(fmt.Sprint("n", i)), Member: "x", Owner: "o", At: at, TTL: time.Hour},
			&state.MarkOp{Key: key(fmt.Sprint("k", i)), At: at, TTL: time.Hour},
			&state.BucketAddOp{Key: key(fmt.Sprint("b", i)), Member: "e", At: at, Width: time.Minute, History: 2, TTL: time.Hour},
			&state.PutOp{Key: key(fmt.Sprint("v", i)), Value: []byte("value"), TTL: time.Hour},
			&state.ThrottleOp{Key: key(fmt.Sprint("t", i)), Owner: "o", TTL: time.Hour},
		}
		for _, op := range ops {
			if res, changed := r.Apply(op, now); res.Err() != nil || !changed {
				t.Fatalf("%T: err %v, changed %v", op, res.Err(), changed)
			}
		}
	}
}

// reads returns what reading names 0..n-1 of every kind answers.
func reads(r *record.Record, n int) []any {
	var out []any
	for i := range n {
		ops := []state.Op{
			&state.WindowReadOp{Key: key(fmt.Sprint("w", i)), Span: state.Span{From: at.Add(-time.Hour), To: at}, Limit: 5},
			&state.ReadMarkOp{Key: key(fmt.Sprint("k", i))},
			&state.BucketReadOp{Key: key(fmt.Sprint("b", i)), At: at, Width: time.Minute, History: 2},
			&state.GetOp{Key: key(fmt.Sprint("v", i))},
		}
		for _, op := range ops {
			res, _ := r.Apply(op, now)
			res.Resolve(op)
		}
		w, werr := ops[0].(*state.WindowReadOp).Result.Get()
		m, merr := ops[1].(*state.ReadMarkOp).Result.Get()
		b, berr := ops[2].(*state.BucketReadOp).Result.Get()
		v, verr := ops[3].(*state.GetOp).Result.Get()
		out = append(out, w, werr, m, merr, b, berr, string(v), verr)
	}
	return out
}

// reload encodes r, decodes the result and attaches every side record it
// needs for names 0..n-1, as the Redis store does.
func reload(t *testing.T, r *record.Record, n int) *record.Record {
	t.Helper()
	main, sides := r.Encode([record.VersionSize]byte{1}, now)
	stored := map[string][]byte{}
	for _, s := range sides {
		stored[s.Suffix] = s.Data
	}
	got, err := record.Decode(main, now)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	var ops []state.Op
	for i := range n {
		for _, p := range []string{"w", "n", "k", "b", "v", "t"} {
			ops = append(ops, &state.GetOp{Key: key(fmt.Sprint(p, i))})
		}
	}
	for range 3 {
		needs := got.Needs(ops, now)
		if len(needs) == 0 {
			return got
		}
		for _, need := range needs {
			data, ok := stored[need.Suffix]
			if !ok {
				t.Fatalf("side record %s needed but never written", need.Suffix)
			}
			if ok, err := got.Attach(need, data, now); !ok || err != nil {
				t.Fatalf("Attach(%s): %v, %v", need.Suffix, ok, err)
			}
		}
	}
	t.Fatal("side records still needed after three rounds")
	return nil
}

// TestRoundTrip: a record read back from its encoding (and its pages and
// side records, when it has them) answers every read as before.
func TestRoundTrip(t *testing.T) {
	for _, n := range []int{1, 10, 400} { // inline; inline; paged
		t.Run(fmt.Sprint(n, " names"), func(t *testing.T) {
			r := &record.Record{}
			fill(t, r, n)
			want := reads(r, n)
			got := reload(t, r, n)
			if g := reads(got, n); !reflect.DeepEqual(g, want) {
				t.Fatalf("read back:\n%v\nwant\n%v", g, want)
			}
			if main, _ := got.Encode([record.VersionSize]byte{2}, now); n >= 400 && len(main) > record.PageThreshold {
				t.Errorf("paged record's directory is %d bytes, past PageThreshold", len(main))
			}
		})
	}
}

// TestUnattachedPageRefused: an operation on an entry whose page is not
// attached gets an error, never an answer from a record that lacks it.
func TestUnattachedPageRefused(t *testing.T) {
	r := &record.Record{}
	fill(t, r, 400)
	main, _ := r.Encode([record.VersionSize]byte{1}, now)
	got, err := record.Decode(main, now)
	if err != nil {
		t.Fatal(err)
	}
	op := &state.GetOp{Key: key("v1")}
	if res, changed := got.Apply(op, now); res.Err() == nil || changed {
		t.Fatalf("Get on an unattached page: err %v, changed %v; want an error", res.Err(), changed)
	}
}

// TestRefreshSkipped: a write whose only effect is to push a long TTL out
// by less than a sixteenth changes nothing; content changes always do.
func TestRefreshSkipped(t *testing.T) {
	r := &record.Record{}
	mark := func(at time.Time, wall int64) bool {
		_, changed := r.Apply(&state.MarkOp{Key: key("m"), At: at, Keep: state.KeepEarliest, TTL: 90 * 24 * time.Hour}, wall)
		return changed
	}
	if !mark(at, now) {
		t.Fatal("first mark: unchanged")
	}
	if mark(at.Add(time.Hour), now+int64(time.Hour)) {
		t.Error("a later time under KeepEarliest an hour on: changed, want the refresh skipped")
	}
	if !mark(at.Add(-time.Hour), now+int64(time.Hour)) {
		t.Error("an earlier time under KeepEarliest: unchanged")
	}
	if !mark(at, now+int64(7*24*time.Hour)) {
		t.Error("a week on (past TTL/16): unchanged, want the TTL refreshed")
	}
}

// FuzzDecode: any bytes decode to a record or to an error wrapping
// ErrCorrupt, never a panic; what decodes encodes and decodes again.
func FuzzDecode(f *testing.F) {
	for _, n := range []int{0, 3, 400} {
		r := &record.Record{}
		fill(&testing.T{}, r, n)
		main, sides := r.Encode([record.VersionSize]byte{7}, now)
		f.Add(main)
		for _, s := range sides[:min(2, len(sides))] {
			f.Add(s.Data)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := decodeOrCorrupt(t, b)
		if r == nil {
			return
		}
		_ = r.Needs([]state.Op{&state.GetOp{Key: key("v1")}}, 0)
		again, _ := r.Encode([record.VersionSize]byte{}, 0)
		if _, err := record.Decode(again, 0); err != nil {
			t.Fatalf("re-encoding of a decoded record does not decode: %v", err)
		}
	})
}

// TestReleasedPagesReused: once a page's bytes are released and reused by
// another record's encoding, the record that wrote them still encodes its
// clean entries right: none of them aliases the released bytes.
func TestReleasedPagesReused(t *testing.T) {
	const n = 400 // paged
	r := &record.Record{}
	fill(t, r, n)
	stored := map[string][]byte{}
	keep := func(sides []record.Side) {
		for _, s := range sides {
			if s.Append {
				stored[s.Suffix] = append(stored[s.Suffix], s.Data...)
			} else {
				stored[s.Suffix] = append([]byte(nil), s.Data...)
			}
		}
		record.Release(sides)
	}
	_, sides := r.Encode([record.VersionSize]byte{1}, now)
	keep(sides)
	for i := range n { // every page written again: its values' encodings are new
		r.Apply(&state.PutOp{Key: key(fmt.Sprint("v", i)), Value: []byte("changed"), TTL: time.Hour}, now)
	}
	_, sides = r.Encode([record.VersionSize]byte{2}, now)
	keep(sides)

	other := &record.Record{}
	fill(t, other, n)
	for i := range n {
		other.Apply(&state.PutOp{Key: key(fmt.Sprint("v", i)), Value: []byte("scribbled"), TTL: time.Hour}, now)
	}
	_, scribble := other.Encode([record.VersionSize]byte{3}, now)
	for _, s := range scribble { // likely the released bytes: spoil them
		for i := range s.Data {
			s.Data[i] = 0xff
		}
	}
	record.Release(scribble)

	r.Apply(&state.PutOp{Key: key("v1"), Value: []byte("again"), TTL: time.Hour}, now)
	want := reads(r, n)
	main, sides := r.Encode([record.VersionSize]byte{4}, now)
	keep(sides)
	got, err := record.Decode(main, now)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	var ops []state.Op
	for i := range n {
		for _, p := range []string{"w", "n", "k", "b", "v", "t"} {
			ops = append(ops, &state.GetOp{Key: key(fmt.Sprint(p, i))})
		}
	}
	for range 3 {
		for _, need := range got.Needs(ops, now) {
			if ok, err := got.Attach(need, stored[need.Suffix], now); !ok || err != nil {
				t.Fatalf("Attach(%s): %v, %v", need.Suffix, ok, err)
			}
		}
	}
	if g := reads(got, n); !reflect.DeepEqual(g, want) {
		t.Fatalf("read back after its pages' bytes were reused:\n%v\nwant\n%v", g, want)
	}
}

// BenchmarkWindowAdd adds a member again to windows of ARNs sharing a
// prefix, as an identity's recon window gets them.
func BenchmarkWindowAdd(b *testing.B) {
	for _, n := range []int{16, 256} {
		b.Run(fmt.Sprint("members=", n), func(b *testing.B) {
			r := &record.Record{}
			k := key("w")
			for i := range n {
				r.Apply(&state.WindowAddOp{Key: k, Member: fmt.Sprintf("arn:aws:iam::123456789012:role/service-role-%04d", i), At: at, TTL: time.Hour}, now)
			}
			i := 0
			for b.Loop() {
				r.Apply(&state.WindowAddOp{Key: k, Member: fmt.Sprintf("arn:aws:iam::123456789012:role/service-role-%04d", i%n), At: at.Add(time.Duration(i) * time.Nanosecond), TTL: time.Hour}, now)
				i++
			}
		})
	}
}
