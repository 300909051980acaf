package record_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"
	"github.com/iamsentry/iamsentry/state/internal/record"
)

// sideStore holds a record and its side records as a store does: what
// EncodeWrite's writes make of them (SET, SETRANGE and APPEND of the
// record; SET, APPEND and deletion of side records).
type sideStore struct {
	main  stored
	sides map[string][]byte
	// base is the bytes of each side record's whole write; appends and
	// wholes count the side records' writes, appended the bytes appended.
	base                      map[string]int
	appends, wholes, appended int
}

func (s *sideStore) write(t *testing.T, w record.Write, v [record.VersionSize]byte) {
	t.Helper()
	if s.sides == nil {
		s.sides, s.base = map[string][]byte{}, map[string]int{}
	}
	s.main.write(t, w, v)
	for _, sd := range w.Sides {
		switch {
		case sd.Append:
			if s.sides[sd.Suffix] == nil {
				t.Fatalf("an append to side record %s, which is not stored", sd.Suffix)
			}
			if sd.Old != "" {
				t.Fatalf("an append to %s replaces %s", sd.Suffix, sd.Old)
			}
			s.sides[sd.Suffix] = append(s.sides[sd.Suffix], sd.Data...)
			s.appends++
			s.appended += len(sd.Data)
		case sd.Data != nil:
			s.sides[sd.Suffix] = append([]byte(nil), sd.Data...)
			s.base[sd.Suffix] = len(sd.Data)
			s.wholes++
		}
		if sd.Old != "" {
			delete(s.sides, sd.Old)
			delete(s.base, sd.Old)
		}
	}
}

// load decodes the stored record and attaches the side records ops need,
// as the Redis store does.
func (s *sideStore) load(t *testing.T, ops []state.Op, at int64) *record.Record {
	t.Helper()
	r, err := record.Decode(s.main.b, at)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	for range 3 {
		needs := r.Needs(ops, at)
		if len(needs) == 0 {
			return r
		}
		for _, n := range needs {
			if ok, err := r.Attach(n, s.sides[n.Suffix], at); !ok || err != nil {
				t.Fatalf("Attach(%s): %v, %v", n.Suffix, ok, err)
			}
		}
	}
	t.Fatal("side records still needed after three rounds")
	return nil
}

// sideOps are operations on one large entry of each kind journaled (a
// window, a novelty set with owners, buckets), step i of a run: members
// recur (novelty members seen again by the owner that introduced them, or
// by another), times move forward so that old members are trimmed, and one step
// in seven is older than the step before (shuffled delivery).
func sideOps(i int) []state.Op {
	t := at.Add(time.Duration(i) * 7 * time.Minute)
	if i%7 == 3 {
		t = t.Add(-40 * time.Minute)
	}
	m := fmt.Sprintf("person-%03d|%s", (i*37)%500, t.Format("2006-01-02"))
	span := state.Span{From: t.Add(-24 * time.Hour), To: t}
	person, owner := fmt.Sprint("person-", (i*7)%300), fmt.Sprint("o", i%3)
	switch i % 5 {
	case 4: // the step before's, retried by its owner
		person, owner = fmt.Sprint("person-", ((i-1)*7)%300), fmt.Sprint("o", (i-1)%3)
	case 2: // the step before's, by another owner
		person = fmt.Sprint("person-", ((i-1)*7)%300)
	case 1: // one of 48 steps before, by its owner, past NoveltyRetryWindow
		person, owner = fmt.Sprint("person-", ((i+252)*7)%300), fmt.Sprint("o", (i+252)%3)
	}
	return []state.Op{
		&state.WindowAddReadOp{Key: key("days"), Member: m, At: t, Span: span, Limit: 3, TTL: 24 * time.Hour},
		&state.NoveltyAddOp{Key: key("people"), Member: person, Owner: owner, At: t, TTL: 24 * time.Hour},
		&state.BucketAddOp{Key: key("rate"), Member: m, At: t, Width: time.Hour, History: 6, TTL: 24 * time.Hour},
	}
}

// sideReads reads the three entries sideOps writes, in full.
func sideReads(r *record.Record, wall int64) []any {
	t := at.Add(1000 * 7 * time.Minute)
	ops := []state.Op{
		&state.WindowReadOp{Key: key("days"), Span: state.Span{From: at.Add(-time.Hour), To: t}, Limit: 1 << 20},
		&state.BucketReadOp{Key: key("rate"), At: t, Width: time.Hour, History: 200},
		&state.NoveltyAddOp{Key: key("people"), Member: "probe", At: t, TTL: time.Hour},
	}
	var out []any
	for _, op := range ops {
		res, _ := r.Apply(op, wall)
		res.Resolve(op)
	}
	w, werr := ops[0].(*state.WindowReadOp).Result.Get()
	b, berr := ops[1].(*state.BucketReadOp).Result.Get()
	n, nerr := ops[2].(*state.NoveltyAddOp).Result.Get()
	return append(out, w, werr, b, berr, n, nerr)
}

// TestSideLogAppendsOperations: once a window, a novelty set and buckets
// have side records, a write that adds a member appends that member's
// operation to the side record (tens of bytes), not the entry (kilobytes);
// the stored bytes, read by another replica, answer every operation as the
// writer's record does, through trims, recurring members and times out of
// order; and a side record is rewritten whole, under a new key, only once
// its appended bytes pass half of it.
func TestSideLogAppendsOperations(t *testing.T) {
	r := &record.Record{}
	var s sideStore
	wall := now
	for i := range 400 {
		wall += int64(3 * time.Minute) // introductions are forgotten after NoveltyRetryWindow
		ops := sideOps(i)
		// Another replica's copy, read from the store, must answer this
		// step's operations as the writer's copy does.
		other := &record.Record{}
		if i > 0 {
			other = s.load(t, ops, wall)
		}
		for _, op := range ops {
			res, _ := r.Apply(op, wall)
			got, _ := other.Apply(op, wall)
			if !reflect.DeepEqual(res, got) {
				t.Fatalf("step %d %T: the stored record answers %+v, the writer's %+v", i, op, got, res)
			}
		}
		v := [record.VersionSize]byte{byte(i), byte(i >> 8), 1}
		w := r.EncodeWrite(v, wall)
		for _, sd := range w.Sides {
			if sd.Append && len(sd.Data) > 96 {
				t.Fatalf("step %d: an append of %d bytes to %s: want one member's operations", i, len(sd.Data), sd.Suffix)
			}
		}
		s.write(t, w, v)
	}
	if s.appends < 10*s.wholes {
		t.Errorf("%d appends, %d whole writes of side records: want mostly appends", s.appends, s.wholes)
	}
	largest := 0
	for _, b := range s.sides {
		largest = max(largest, len(b))
	}
	if largest < record.SideThreshold || s.appended/s.appends > 64 {
		t.Errorf("largest side record %d B, %d B appended per append: the test reaches no large entry", largest, s.appended/s.appends)
	}
	final := s.load(t, sideOps(0), wall)
	if !reflect.DeepEqual(sideReads(final, wall), sideReads(r, wall)) {
		t.Error("the stored record reads otherwise than the one written")
	}
	t.Logf("%d appends (%d B each), %d whole side writes, largest side record %d B",
		s.appends, s.appended/s.appends, s.wholes, largest)
}

// TestSideLogCompacts: a side record's stored bytes stay within half again
// its last whole write: past that, the write rewrites it whole under a new
// key, naming the old one for deletion.
func TestSideLogCompacts(t *testing.T) {
	r := &record.Record{}
	var s sideStore
	wall := now
	rewrites := 0
	for i := range 600 {
		wall += int64(time.Millisecond)
		t0 := at.Add(time.Duration(i) * time.Second)
		r.Apply(&state.WindowAddOp{Key: key("w"), Member: fmt.Sprintf("member-%04d", i), At: t0,
			Count: state.Span{From: t0, To: t0}, TTL: 24 * time.Hour}, wall)
		v := [record.VersionSize]byte{byte(i), byte(i >> 8), 2}
		w := r.EncodeWrite(v, wall)
		for _, sd := range w.Sides {
			if !sd.Append && sd.Old != "" {
				rewrites++
				if len(s.sides[sd.Old]) == 0 {
					t.Fatalf("step %d: a rewrite replaces %s, which is not stored", i, sd.Old)
				}
			}
		}
		s.write(t, w, v)
		for suffix, b := range s.sides {
			if base := s.base[suffix]; len(b) > base+base/2+64 {
				t.Fatalf("step %d: side record %s holds %d B, its whole write %d B", i, suffix, len(b), base)
			}
		}
	}
	if rewrites == 0 || len(s.sides) != 1 {
		t.Errorf("%d rewrites, %d side records stored: want rewrites, each deleting the one it replaces", rewrites, len(s.sides))
	}
}

// TestSideLogReplacedRewritesWhole: an entry that expired and began
// again, or whose side record is in format 3 (written before the side
// log), rewrites its side record whole in format 6; the write after that
// appends, and the stored bytes read as the record written.
func TestSideLogReplacedRewritesWhole(t *testing.T) {
	later := now + int64(2*time.Hour)
	big := func(r *record.Record, n int, when time.Time, wall int64) {
		for i := range n {
			r.Apply(&state.NoveltyAddOp{Key: key("n"), Member: fmt.Sprint("m", i), Owner: "o", At: when, TTL: time.Hour}, wall)
		}
	}
	for _, c := range []struct {
		name    string
		wall    int64
		prepare func(t *testing.T, r *record.Record, s *sideStore) *record.Record
	}{
		{"expired and begun again", later, func(t *testing.T, r *record.Record, s *sideStore) *record.Record {
			big(r, 120, at.Add(2*time.Hour), later)
			return r
		}},
		{"format 3", now, func(t *testing.T, r *record.Record, s *sideStore) *record.Record {
			for suffix, b := range s.sides {
				b[record.VersionSize] = 3 // a format 6 side record with no segment is format 3's layout
				s.sides[suffix] = b
			}
			got := s.load(t, []state.Op{&state.GetOp{Key: key("n")}}, now)
			big(got, 1, at.Add(time.Minute), now)
			return got
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &record.Record{}
			var s sideStore
			big(r, 100, at, now)
			s.write(t, r.EncodeWrite([record.VersionSize]byte{1}, now), [record.VersionSize]byte{1})
			r = c.prepare(t, r, &s)
			for i, wantAppend := range []bool{false, true} {
				if i == 1 {
					r.Apply(&state.NoveltyAddOp{Key: key("n"), Member: "new", Owner: "o", At: at.Add(3 * time.Hour), TTL: time.Hour}, c.wall)
				}
				v := [record.VersionSize]byte{byte(2 + i)}
				w := r.EncodeWrite(v, c.wall)
				if len(w.Sides) != 1 || w.Sides[0].Append != wantAppend {
					t.Fatalf("write %d: %d side records written, want one, append %v", i, len(w.Sides), wantAppend)
				}
				if sd := w.Sides[0]; !sd.Append && sd.Data[record.VersionSize] != 6 {
					t.Fatalf("write %d: format %d, want 6", i, sd.Data[record.VersionSize])
				}
				s.write(t, w, v)
			}
			got := s.load(t, []state.Op{&state.GetOp{Key: key("n")}}, c.wall)
			probe := func(r *record.Record) any {
				op := &state.NoveltyAddOp{Key: key("n"), Member: "probe", At: at.Add(3 * time.Hour), TTL: time.Hour}
				res, _ := r.Apply(op, c.wall)
				res.Resolve(op)
				n, err := op.Result.Get()
				return fmt.Sprint(n, err)
			}
			if g, w := probe(got), probe(r); g != w {
				t.Errorf("stored record answers %s, the one written %s", g, w)
			}
		})
	}
}

// sideRun writes steps steps of sideOps and returns what they stored.
func sideRun(t *testing.T, steps int) *sideStore {
	t.Helper()
	r := &record.Record{}
	s := &sideStore{}
	wall := now
	for i := range steps {
		wall += int64(time.Millisecond)
		for _, op := range sideOps(i) {
			r.Apply(op, wall)
		}
		v := [record.VersionSize]byte{byte(i), 3}
		s.write(t, r.EncodeWrite(v, wall), v)
	}
	return s
}

// TestSideLogCorrupt: a side record cut anywhere in its segments, or with
// an operation of another kind than its entry's, is an error wrapping
// ErrCorrupt, never a panic.
func TestSideLogCorrupt(t *testing.T) {
	s := sideRun(t, 40)
	checked := 0
	for suffix, b := range s.sides {
		base := s.base[suffix]
		for n := base + 1; n < len(b); n++ {
			if _, err := record.Decode(b[:n], now); err != nil && !errors.Is(err, record.ErrCorrupt) {
				t.Fatalf("%s cut to %d bytes: %v, want nil or ErrCorrupt", suffix, n, err)
			}
			checked++
		}
		if base < len(b) {
			// The first segment's first operation: its expiry and count,
			// then its tag, made one that is no operation.
			_, n1 := binary.Uvarint(b[base:])
			_, n2 := binary.Uvarint(b[base+n1:])
			bad := append([]byte(nil), b...)
			bad[base+n1+n2] = 9
			if _, err := record.Decode(bad, now); !errors.Is(err, record.ErrCorrupt) {
				t.Errorf("%s with operation 9: %v, want ErrCorrupt", suffix, err)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no side record had segments: the test reaches no append")
	}
}

// FuzzDecodeSideLog: bytes in the side log format decode to a record or to
// an error wrapping ErrCorrupt, never a panic.
func FuzzDecodeSideLog(f *testing.F) {
	for _, b := range sideRun(&testing.T{}, 30).sides {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := decodeOrCorrupt(t, b)
		if r == nil {
			return
		}
		again, _ := r.Encode([record.VersionSize]byte{5}, 0)
		if _, err := record.Decode(again, 0); err != nil {
			t.Fatalf("re-encoding of a decoded side record does not decode: %v", err)
		}
	})
}
