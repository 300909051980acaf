package cloudtrail

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// timeEdgeCases are eventTimes at the edges of what parseZulu reads and
// what it must leave to parseTime.
var timeEdgeCases = []string{
	"2024-07-31T13:06:24Z", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T12:00:00Z",
	"2000-02-29T23:59:59Z", "2024-04-31T00:00:00Z", "2024-12-31T23:59:59Z", "2024-13-01T00:00:00Z",
	"2024-00-10T00:00:00Z", "2024-01-00T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z",
	"2024-01-01T00:00:60Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2024-01-01t00:00:00Z",
	"2024-01-01T00:00:00z", "2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00+02:00", "2024-01-01 00:00:00",
	"2024-1-01T00:00:00Z", "2024-01-01T00:00:0aZ", "+024-01-01T00:00:00Z", "2024-01-01T00:00:00Z ", "",
}

// FuzzParseTimeBytes checks that parsing eventTime from bytes is
// invisible: whatever the bytes, the instant or the rejection is
// parseTime's, and what parseZulu reads time.Parse reads the same.
func FuzzParseTimeBytes(f *testing.F) {
	for _, s := range timeEdgeCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gotErr := parseTimeBytes(b)
		want, wantErr := parseTime(string(b))
		if !got.Equal(want) || got.Location() != want.Location() || !reflect.DeepEqual(gotErr, wantErr) {
			t.Errorf("parseTimeBytes(%q) = %v, %v; parseTime says %v, %v", b, got, gotErr, want, wantErr)
		}
		if z, ok := parseZulu(b); ok {
			std, err := time.Parse(time.RFC3339Nano, string(b))
			if err != nil || !std.Equal(z) {
				t.Errorf("parseZulu(%q) = %v; time.Parse says %v, %v", b, z, std, err)
			}
		}
	})
}

// The edge cases must exercise both sides of parseZulu, or the fuzz
// seeds prove less than they seem to.
func TestParseZuluTakesCloudTrailShape(t *testing.T) {
	taken := 0
	for _, s := range timeEdgeCases {
		if _, ok := parseZulu([]byte(s)); ok {
			taken++
		}
	}
	if taken == 0 || taken == len(timeEdgeCases) {
		t.Fatalf("parseZulu took %d of %d edge cases; want some and not all", taken, len(timeEdgeCases))
	}
	if _, ok := parseZulu([]byte("2024-07-31T13:06:24Z")); !ok {
		t.Error("parseZulu must read the shape CloudTrail writes (2024-07-31T13:06:24Z)")
	}
}

// FuzzMayBeIP checks that mayBeIP only skips strings netip.ParseAddr
// rejects.
func FuzzMayBeIP(f *testing.F) {
	for _, s := range []string{"", "1.2.3.4", "01.2.3.4", "::1", "fe80::1%eth0", "ec2.amazonaws.com",
		"AWS Internal", "1.2.3", "%", "1.2.3.4 ", "dead:beef::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := netip.ParseAddr(s); err == nil && !mayBeIP(s) {
			t.Errorf("mayBeIP(%q) is false, but netip.ParseAddr reads it", s)
		}
	})
}

// ParseInto accepts and rejects what Parse does, and an error leaves the
// Record it was given as it was.
func TestParseIntoMatchesParse(t *testing.T) {
	inputs := append([]string(nil), stdEdgeCases...)
	for _, s := range timeEdgeCases {
		inputs = append(inputs, `{"eventName":"ListUsers","eventSource":"iam.amazonaws.com","eventTime":"`+s+`","eventID":"e1"}`)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json*"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".jsonl") {
			inputs = append(inputs, strings.Split(strings.TrimSpace(string(data)), "\n")...)
		} else {
			inputs = append(inputs, string(data))
		}
	}
	sentinel := Record{EventID: "untouched"}
	for _, in := range inputs {
		want, wantErr := Parse([]byte(in), Options{})
		got := sentinel
		err := ParseInto(&got, []byte(in), Options{})
		switch {
		case !reflect.DeepEqual(err, wantErr):
			t.Errorf("ParseInto(%.60q) error %v; Parse says %v", in, err, wantErr)
		case err != nil && !reflect.DeepEqual(got, sentinel):
			t.Errorf("ParseInto(%.60q) failed but changed the Record: %+v", in, got)
		case err == nil && !reflect.DeepEqual(&got, want):
			t.Errorf("ParseInto(%.60q) = %+v; Parse says %+v", in, got, *want)
		}
	}
}

// Every day of every month (and the days after its last) from 1896 to
// 2104, which holds leap years, the century years 1900 and 2100 that are
// not and 2000 that is, reads as time.Parse reads it.
func TestParseZuluMatchesTimeParseOnEveryDay(t *testing.T) {
	for year := 1896; year <= 2104; year++ {
		for month := 0; month <= 13; month++ {
			for day := 0; day <= 32; day++ {
				s := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", year, month, day, day%25, (day*7)%61, (day*13)%61)
				z, ok := parseZulu([]byte(s))
				std, err := time.Parse(time.RFC3339Nano, s)
				if ok != (err == nil) || ok && !z.Equal(std) {
					t.Fatalf("%s: parseZulu = %v, %v; time.Parse = %v, %v", s, z, ok, std, err)
				}
			}
		}
	}
}

// TestTwoDigitsIsDigits holds twoDigits to digits for every pair of bytes.
func TestTwoDigitsIsDigits(t *testing.T) {
	for hi := range 256 {
		for lo := range 256 {
			n, ok := twoDigits(byte(hi), byte(lo))
			wantN, wantOK := digits([]byte{byte(hi), byte(lo)})
			if ok != wantOK || ok && n != wantN {
				t.Fatalf("twoDigits(%q, %q) = %d, %v; digits gives %d, %v", byte(hi), byte(lo), n, ok, wantN, wantOK)
			}
		}
	}
}
