package record_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/state"

	"github.com/iamsentry/iamsentry/state/internal/record"
)

// expiries follows the expiry a store gives a record's key and its side
// records' keys (Unix ms) through EncodeWrite's writes, and counts the
// writes that set one.
type expiries struct {
	main             int64
	sides            map[string]int64
	set, appends     int // appends of the record, and of them those that set its expiry
	sideSet, sideApp int // the same for side records
}

func (x *expiries) write(w record.Write) {
	if x.sides == nil {
		x.sides = map[string]int64{}
	}
	if w.Append {
		x.appends++
	}
	if w.PXAT != 0 {
		x.main = w.PXAT
		if w.Append {
			x.set++
		}
	}
	for _, sd := range w.Sides {
		ms := (sd.Expires + 999_999) / 1_000_000
		if sd.Append {
			x.sideApp++
		}
		switch {
		case sd.Data == nil:
		case !sd.Append || ms != 0:
			x.sides[sd.Suffix] = ms
			if sd.Append {
				x.sideSet++
			}
		}
		if sd.Old != "" {
			delete(x.sides, sd.Old)
		}
	}
}

// TestKeyExpiryCoversEveryEntry: the record's key and each side record's
// key are given an expiry with headroom, and an append sets it again only
// when an entry's expiry passes it. Through 600 steps of writes (3 minutes
// of wall time apart, 24-hour TTLs, the writer replaced by a replica that
// read the stored bytes every 100 steps), no key may expire before an
// entry it holds: a write that skipped an expiry it needed fails here.
// And most appends must set none.
func TestKeyExpiryCoversEveryEntry(t *testing.T) {
	r := &record.Record{}
	fill(t, r, 20)
	var s sideStore
	var x expiries
	wall := now
	for i := range 600 {
		wall += int64(3 * time.Minute)
		ops := sideOps(i)
		if i > 0 && i%100 == 0 {
			r = s.load(t, ops, wall) // another replica's turn: it knows what the bytes say
		}
		for _, op := range ops {
			if res, _ := r.Apply(op, wall); res.Err() != nil {
				t.Fatalf("step %d %T: %v", i, op, res.Err())
			}
		}
		v := [record.VersionSize]byte{byte(i), byte(i >> 8), 2}
		w := r.EncodeWrite(v, wall)
		s.write(t, w, v)
		x.write(w)
		stored, err := record.Decode(s.main.b, wall)
		if err != nil {
			t.Fatalf("step %d: Decode: %v", i, err)
		}
		if e := stored.Expires(wall); e > x.main*1_000_000 {
			t.Fatalf("step %d: the record's key expires at %d ms, before its latest entry (%d ns)", i, x.main, e)
		}
		for suffix, b := range s.sides {
			side, err := record.Decode(b, wall)
			if err != nil {
				t.Fatalf("step %d: Decode side record %s: %v", i, suffix, err)
			}
			exp, ok := x.sides[suffix]
			if !ok {
				t.Fatalf("step %d: side record %s stored without an expiry", i, suffix)
			}
			if e := side.Expires(wall); e > exp*1_000_000 {
				t.Fatalf("step %d: side record %s's key expires at %d ms, before its entry (%d ns)", i, suffix, exp, e)
			}
		}
	}
	if x.appends < 30 || x.sideApp < 300 {
		t.Fatalf("%d appends of the record, %d of side records: the run no longer exercises appends", x.appends, x.sideApp)
	}
	// 24 h TTLs, 3 minutes a step: the headroom (1.5 h) lasts about 30
	// steps, so about one append in 30 sets the expiry (and one in 100
	// steps a fresh replica does once, not knowing the headroom).
	if x.set*10 > x.appends || x.sideSet*10 > x.sideApp {
		t.Errorf("expiry set by %d of %d record appends and %d of %d side record appends; want under a tenth", x.set, x.appends, x.sideSet, x.sideApp)
	}
	t.Logf("expiry set by %d of %d record appends, %d of %d side record appends", x.set, x.appends, x.sideSet, x.sideApp)
}

// TestKeyExpiryLogAppends: the same rule on a record of inline entries in
// the log format, one entry put a step (a 24-hour TTL, 10 minutes of wall
// time apart, so that the headroom of 1.5 h runs out before the dead
// bytes of about 20 appends have the record rewritten whole), where writes
// are mostly appends: none may leave the key expiring before its latest
// entry, and most set no expiry.
func TestKeyExpiryLogAppends(t *testing.T) {
	r := &record.Record{}
	put := func(i int, wall int64) {
		op := &state.PutOp{Key: key(fmt.Sprint("v", i%40)), Value: []byte(fmt.Sprintf("a value of some forty bytes, step %05d", i)), TTL: 24 * time.Hour}
		if res, _ := r.Apply(op, wall); res.Err() != nil {
			t.Fatalf("step %d: %v", i, res.Err())
		}
	}
	for i := range 40 {
		put(i, now)
	}
	var s stored
	var x expiries
	wall := now
	for i := range 600 {
		if i > 0 {
			wall += int64(10 * time.Minute)
			put(i, wall)
		}
		if i > 0 && i%100 == 0 {
			var err error
			if r, err = record.Decode(s.b, wall); err != nil { // another replica's turn
				t.Fatalf("step %d: Decode: %v", i, err)
			}
		}
		v := [record.VersionSize]byte{byte(i), byte(i >> 8), 3}
		w := r.EncodeWrite(v, wall)
		s.write(t, w, v)
		x.write(w)
		stored, err := record.Decode(s.b, wall)
		if err != nil {
			t.Fatalf("step %d: Decode: %v", i, err)
		}
		if e := stored.Expires(wall); e > x.main*1_000_000 {
			t.Fatalf("step %d: the record's key expires at %d ms, before its latest entry (%d ns)", i, x.main, e)
		}
	}
	if x.appends < 300 {
		t.Fatalf("%d appends of 600 writes: the run no longer exercises appends", x.appends)
	}
	if x.set*5 > x.appends {
		t.Errorf("expiry set by %d of %d record appends; want under a fifth", x.set, x.appends)
	}
	t.Logf("expiry set by %d of %d record appends", x.set, x.appends)
}
