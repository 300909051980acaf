package cloudtrail

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"reflect"
	"testing"
	"testing/iotest"
	"unsafe"

	"github.com/iamsentry/iamsentry/internal/racetest"
)

// readThrough is one way of reading an input into items and records.
type readThrough struct {
	items   []Item
	recs    []Record // the item's record, zero when it did not parse
	errs    []error  // ParseInto's error for an item without one of its own
	end     error    // Next's last error
	inPlace int      // items NextInto parsed itself
}

// How readAllParsed reads.
type readVia int

const (
	viaNext         readVia = iota // Next, and ParseInto for every item: the reference
	viaNextInto                    // NextInto, and ParseInto for what it did not parse
	viaNextBorrowed                // NextIntoBorrowed so, as scan reads
)

// readAllParsed reads data as via says; chunks of one byte when slow, so
// that records straddle every buffer boundary.
func readAllParsed(t *testing.T, data []byte, opts Options, via readVia, slow bool) readThrough {
	t.Helper()
	var in io.Reader = bytes.NewReader(data)
	if slow {
		in = iotest.OneByteReader(in)
	}
	rd := NewReader(in, opts)
	var out readThrough
	for n := 0; ; n++ {
		if n > len(data)+1 {
			t.Fatalf("NextInto returned %d items from %d bytes: it must make progress", n, len(data))
		}
		prior := Record{EventID: "prior", UserAgent: "kept unless parsed"}
		rec := prior
		var item Item
		var parsed bool
		var err error
		switch via {
		case viaNextInto:
			item, parsed, err = rd.NextInto(&rec)
		case viaNextBorrowed:
			item, parsed, err = rd.NextIntoBorrowed(&rec)
		default:
			item, err = rd.Next()
		}
		if err != nil {
			out.end = err
			return out
		}
		if !parsed && !reflect.DeepEqual(rec, prior) {
			t.Fatalf("%s: NextInto changed the record of an item it did not parse", item.Position())
		}
		var perr error
		switch {
		case parsed:
			out.inPlace++
			if via == viaNextBorrowed {
				ownBorrowed(t, item, &rec)
			}
		case item.Err == nil:
			rec = Record{}
			if perr = ParseInto(&rec, item.Raw, opts); perr != nil {
				rec = Record{}
			}
		default:
			rec = Record{}
		}
		item.Raw = bytes.Clone(item.Raw) // items are compared after the Reader moved on
		out.items, out.recs, out.errs = append(out.items, item), append(out.recs, rec), append(out.errs, perr)
	}
}

// ownBorrowed checks that the raw values of a record NextIntoBorrowed
// parsed lie within its item's bytes, capped there, and replaces them by
// copies, as the Reader may reuse those bytes after a Release.
func ownBorrowed(t *testing.T, item Item, rec *Record) {
	t.Helper()
	for _, m := range []*json.RawMessage{&rec.RequestParameters, &rec.ResponseElements, &rec.AdditionalEventData} {
		if *m == nil {
			continue
		}
		if cap(*m) != len(*m) || !within(*m, item.Raw) {
			t.Fatalf("%s: a borrowed raw value must be a capped slice of the item's bytes: %q (cap %d)", item.Position(), *m, cap(*m))
		}
		*m = bytes.Clone(*m)
	}
}

// within reports whether b lies inside outer's bytes.
func within(b, outer []byte) bool {
	if len(b) == 0 || len(outer) == 0 {
		return false
	}
	start, end := uintptr(unsafe.Pointer(&outer[0])), uintptr(unsafe.Pointer(&outer[len(outer)-1]))
	p, q := uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&b[len(b)-1]))
	return start <= p && q <= end
}

// sameThroughNextInto checks that reading data with NextInto, and with
// NextIntoBorrowed, gives the items, records, rejections and end that
// Next and ParseInto give. It returns what NextInto gave.
func sameThroughNextInto(t *testing.T, data []byte, opts Options, slow bool) readThrough {
	t.Helper()
	want := readAllParsed(t, data, opts, viaNext, slow)
	got := sameAs(t, want, readAllParsed(t, data, opts, viaNextInto, slow), data)
	if borrowed := sameAs(t, want, readAllParsed(t, data, opts, viaNextBorrowed, slow), data); borrowed.inPlace != got.inPlace {
		t.Fatalf("NextIntoBorrowed must parse what NextInto parses on %.200q: %d records, want %d", data, borrowed.inPlace, got.inPlace)
	}
	return got
}

// sameAs checks that got holds the items, records, rejections and end of
// want, and returns it.
func sameAs(t *testing.T, want, got readThrough, data []byte) readThrough {
	t.Helper()
	if !reflect.DeepEqual(got.end, want.end) {
		t.Fatalf("NextInto must end as Next does on %.200q:\n got  %v\n want %v", data, got.end, want.end)
	}
	if len(got.items) != len(want.items) {
		t.Fatalf("NextInto must return as many items as Next on %.200q: got %d, want %d", data, len(got.items), len(want.items))
	}
	for i := range want.items {
		g, w := got.items[i], want.items[i]
		if g.Position() != w.Pos || !bytes.Equal(g.Raw, w.Raw) || !reflect.DeepEqual(g.Err, w.Err) {
			t.Fatalf("item %d must be Next's:\n got  %s %q %v\n want %s %q %v", i, g.Position(), g.Raw, g.Err, w.Pos, w.Raw, w.Err)
		}
		if w.Pos == "" || w.Position() != w.Pos {
			t.Fatalf("item %d: Next must set Pos, and Position must be it: Pos %q, Position %q", i, w.Pos, w.Position())
		}
		if (g.Err != nil) != (g.Pos != "") {
			t.Fatalf("item %d: NextInto must set Pos on an item with Err, and only then: Pos %q, Err %v", i, g.Pos, g.Err)
		}
		if !reflect.DeepEqual(got.errs[i], want.errs[i]) {
			t.Fatalf("%s: a record NextInto leaves must be rejected as ParseInto rejects it:\n got  %v\n want %v", w.Pos, got.errs[i], want.errs[i])
		}
		if !reflect.DeepEqual(got.recs[i], want.recs[i]) {
			t.Fatalf("%s: NextInto must parse as ParseInto does:\n got  %+v\n want %+v", w.Pos, got.recs[i], want.recs[i])
		}
	}
	return got
}

// nextIntoInputs are inputs in every container: the oracle's seeds as
// given, as JSON lines, in an envelope and in a bare array, gzip'd.
func nextIntoInputs(tb testing.TB) [][]byte {
	seeds := oracleSeeds()
	out := append([][]byte(nil), seeds...)
	var lines, env, arr bytes.Buffer
	env.WriteString(`{"Records":[`)
	arr.WriteString("[")
	for i, s := range seeds {
		lines.Write(s)
		lines.WriteByte('\n')
		if json := bytes.TrimSpace(s); len(json) > 0 && json[0] == '{' && validJSON(json) {
			if i > 0 && env.Len() > len(`{"Records":[`) {
				env.WriteByte(',')
				arr.WriteByte(',')
			}
			env.Write(json)
			arr.Write(json)
		}
	}
	env.WriteString("]}")
	arr.WriteString("]")
	return append(out, lines.Bytes(), env.Bytes(), arr.Bytes(), gzipped(tb, env.String()))
}

func validJSON(b []byte) bool {
	end, res := scanValue(b, 0, true)
	return res == scanOK && skipSpace(b, end) == len(b)
}

const testMinimal = `"eventName":"ListUsers","eventSource":"iam.amazonaws.com","eventTime":"2024-07-31T13:06:24Z","eventID":"e1"`

func TestNextIntoMatchesNext(t *testing.T) {
	racetest.SkipLong(t)
	inputs := nextIntoInputs(t)
	parsed := 0
	for _, in := range inputs {
		parsed += sameThroughNextInto(t, in, Options{}, false).inPlace
	}
	if parsed == 0 {
		t.Fatal("NextInto parsed no record itself: the one-walk path is not taken")
	}
}

// TestNextIntoAcrossReads feeds the inputs a byte a read, so every record
// is first seen cut short: NextInto must leave it to the Reader's path
// until it is whole, and still parse what arrives whole.
func TestNextIntoAcrossReads(t *testing.T) {
	racetest.SkipLong(t)
	for _, in := range nextIntoInputs(t) {
		if len(in) > 64<<10 {
			continue // byte-at-a-time reading of the big containers is slow, not different
		}
		sameThroughNextInto(t, in, Options{}, true)
	}
}

// TestNextIntoTooLarge checks that a record over the size limit is Next's
// too_large item, not a parsed record, in every container.
func TestNextIntoTooLarge(t *testing.T) {
	rec := []byte(`{` + testMinimal + `}`)
	for _, in := range [][]byte{
		rec,
		[]byte(`{"Records":[` + string(rec) + `]}`),
		[]byte(`[` + string(rec) + `]`),
	} {
		got := sameThroughNextInto(t, in, Options{MaxRecordSize: len(rec) - 1}, false)
		if len(got.items) != 1 || got.items[0].Err == nil || got.inPlace != 0 {
			t.Fatalf("%q over the limit must be a too_large item, not parsed: %+v", in, got.items)
		}
		if got = sameThroughNextInto(t, in, Options{MaxRecordSize: len(rec)}, false); got.inPlace != 1 {
			t.Fatalf("%q at the limit must be parsed in place: %d parsed", in, got.inPlace)
		}
	}
}

// TestNextIntoRealistic checks the realistic month as scan reads it, and
// that the Reader parses all of it: a record it left to the engine would
// be walked twice again.
func TestNextIntoRealistic(t *testing.T) {
	recs := realisticRecords()
	var lines bytes.Buffer
	for _, r := range recs {
		lines.Write(r)
		lines.WriteByte('\n')
	}
	got := sameThroughNextInto(t, lines.Bytes(), Options{}, false)
	// Records cut by the end of a read are walked member by member and
	// parsed once whole: every one is parsed by the Reader.
	if got.inPlace != len(recs) {
		t.Fatalf("NextInto parsed %d of %d realistic records itself; it must parse all of them", got.inPlace, len(recs))
	}
}

func FuzzNextInto(f *testing.F) {
	for _, in := range nextIntoInputs(f) {
		if len(in) < 64<<10 {
			f.Add(in)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if size, ok := plainSizeOf(data); !ok || size > 1<<20 {
			t.Skip("gzip bomb or unreadable gzip")
		}
		sameThroughNextInto(t, data, Options{}, false)
		sameThroughNextInto(t, data, Options{MaxRecordSize: 200}, false)
	})
}

// plainSizeOf is the input's size after gunzip, when it is gzip.
func plainSizeOf(data []byte) (int, bool) {
	if !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		return len(data), true
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, true
	}
	n, _ := io.Copy(io.Discard, io.LimitReader(zr, 1<<20+1))
	return int(n), n <= 1<<20
}
