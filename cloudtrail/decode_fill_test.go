package cloudtrail

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// fillMemoInputs are eventTimes and sourceIPAddresses in an order that
// makes the memo meet the same day and address, then nearly the same.
var fillMemoInputs = []string{
	"2024-08-01T13:42:21Z", "2024-08-01T13:42:22Z", "2024-08-01T00:00:00Z", "2024-08-01T23:59:59Z",
	"2024-08-01T24:00:00Z", "2024-08-01T12:60:00Z", "2024-08-01T12:00:60Z", "2024-08-01X12:00:00Z",
	"2024-08-01T1a:00:00Z", "2024-08-01T12:00:00+", "2024-08-01T12:00:00.5Z", "2024-08-01",
	"2024-08-01T1/:00:00Z", "2024-08-01T12:0::00Z", "2024-08-01T12:00:/9Z", "2024-08-01T-1:00:00Z",
	"2024-08-02T00:00:01Z", "2024-02-29T10:00:00Z", "2023-02-29T10:00:00Z", "2023-02-29T11:00:00Z",
	"2024-02-29T11:00:00Z", "198.51.100.7", "198.51.100.7", "198.51.100.70", "2001:db8::1",
	"2001:db8::1", "ec2.amazonaws.com", "AWS Internal", "", "010.0.0.1", "010.0.0.1", "1.2.3.4",
}

// TestFillMemoIsInvisible reads every input after every other through
// one memo and checks each against the reading without a memo.
func TestFillMemoIsInvisible(t *testing.T) {
	for _, prev := range fillMemoInputs {
		for _, cur := range fillMemoInputs {
			sameWithFillMemo(t, prev, cur)
		}
	}
}

// FuzzFillMemoIsInvisible checks that what the memo kept from one value
// never changes how the next is read.
func FuzzFillMemoIsInvisible(f *testing.F) {
	for i, in := range fillMemoInputs {
		f.Add(fillMemoInputs[(i+1)%len(fillMemoInputs)], in)
	}
	f.Fuzz(func(t *testing.T, prev, cur string) {
		sameWithFillMemo(t, prev, cur)
	})
}

func sameWithFillMemo(t *testing.T, prev, cur string) {
	t.Helper()
	m := fillMemo{ips: new(ipTable)} // a Reader's decoder has the table
	m.zulu([]byte(prev))
	m.sourceIP(prev)
	gotT, gotOK := m.zulu([]byte(cur))
	wantT, wantOK := parseZulu([]byte(cur))
	if gotT != wantT || gotOK != wantOK {
		t.Fatalf("after %q, eventTime %q must read %v %v as without a memo, got %v %v", prev, cur, wantT, wantOK, gotT, gotOK)
	}
	if got, want := m.sourceIP(cur), (*fillMemo)(nil).sourceIP(cur); got != want {
		t.Fatalf("after %q, sourceIPAddress %q must read %v as without a memo, got %v", prev, cur, want, got)
	}
}

// TestFillOverwritesAll checks that fill writes every field of the
// Record it fills, as its contract says ("overwrites whole"): it writes
// field by field, so a field added to Record and not to fill would keep
// the previous record's value. Every field of the prior Record is set
// to something no record here decodes to.
func TestFillOverwritesAll(t *testing.T) {
	data := []byte(`{"eventID":"e","eventName":"n","eventSource":"s","eventTime":"2024-08-01T13:42:21Z"}`)
	var raw rawRecord
	d := new(decoder)
	if !d.decode(data, &raw) {
		t.Fatal("the fast path declined a minimal record")
	}
	want := new(Record)
	if err := raw.fill(want, nil, nil); err != nil {
		t.Fatal(err)
	}
	got := new(Record)
	setAll(t, reflect.ValueOf(got).Elem())
	if err := raw.fill(got, nil, nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fill must overwrite every field of the Record:\n got  %+v\n want %+v", got, want)
	}
}

// setAll sets every field under v to a value that is not zero.
func setAll(t *testing.T, v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(1, 0)))
			return
		}
		if v.Type() == reflect.TypeFor[netip.Addr]() {
			v.Set(reflect.ValueOf(netip.MustParseAddr("192.0.2.1")))
			return
		}
		for i := range v.NumField() {
			setAll(t, v.Field(i))
		}
	case reflect.String:
		v.SetString("prior")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int8:
		v.SetInt(3)
	case reflect.Slice:
		v.SetBytes([]byte(`"prior"`))
	default:
		t.Fatalf("setAll: no value for a %v field", v.Type())
	}
}
