package cloudtrail

import (
	"net/netip"
	"time"
	"unsafe"
)

// fillMemo keeps what fill last worked out from a record's values, for
// the next record to take when its values are the same: the parsed
// sourceIPAddress (the same caller's address, record after record), and
// the midnight of eventTime's day (a month of records has thirty days).
// Like the decoder's other memos it changes what a record costs, never
// what it decodes to.
type fillMemo struct {
	ipText string     // the last sourceIPAddress; "" before any
	ip     netip.Addr // its address, invalid when it is not a literal IP
	// ips holds the addresses of sourceIPAddress values met before, when
	// the decoder has tables (withTables): records of many callers
	// interleave, so the last record's address is this one's in only one
	// record of seven over the realistic month, and netip.ParseAddr ran
	// for 0.72 of its records; with ips it runs for 0.14, and reading the
	// addresses costs 27 ns a record instead of 57
	// (BenchmarkSourceIPRealistic).
	ips *ipTable

	day    [10]byte  // the last eventTime's date, YYYY-MM-DD; zero before any
	dayUTC time.Time // its midnight, UTC
}

// ipTable is a direct-mapped cache of sourceIPAddress values and what
// netip.ParseAddr made of them (10 KiB): a colliding value replaces the
// older one. 256 slots hold a busy hour's addresses of an organisation of
// 150 identities (2,659 distinct over the realistic month).
type ipTable [256]ipEntry

type ipEntry struct {
	text string
	ip   netip.Addr
}

// sourceIP returns what netip.ParseAddr makes of s, when s may be an IP
// (mayBeIP), and the zero Addr otherwise.
func (m *fillMemo) sourceIP(s string) netip.Addr {
	if m != nil && s == m.ipText && s != "" {
		return m.ip
	}
	var slot *ipEntry
	if m != nil && m.ips != nil && len(s) >= 2 { // hashBytes reads two bytes at least
		slot = &m.ips[hashBytes(unsafe.Slice(unsafe.StringData(s), len(s)))%uint32(len(m.ips))]
		if slot.text == s {
			m.ipText, m.ip = s, slot.ip
			return slot.ip
		}
	}
	var ip netip.Addr
	if mayBeIP(s) {
		if a, err := netip.ParseAddr(s); err == nil {
			ip = a
		}
	}
	if slot != nil {
		slot.text, slot.ip = s, ip
	}
	if m != nil {
		m.ipText, m.ip = s, ip
	}
	return ip
}

// zulu is parseZulu, taking the date from the memo when it is the last
// one's: only the time of day is read.
func (m *fillMemo) zulu(b []byte) (time.Time, bool) {
	if m == nil || len(b) != len("2006-01-02T15:04:05Z") || [10]byte(b) != m.day {
		t, ok := parseZulu(b)
		if ok && m != nil {
			copy(m.day[:], b[:10])
			m.dayUTC = t.Add(-time.Duration(t.Hour()*3600+t.Minute()*60+t.Second()) * time.Second)
		}
		return t, ok
	}
	if b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != 'Z' {
		return time.Time{}, false
	}
	hour, ok1 := twoDigits(b[11], b[12])
	minute, ok2 := twoDigits(b[14], b[15])
	sec, ok3 := twoDigits(b[17], b[18])
	if !(ok1 && ok2 && ok3) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return m.dayUTC.Add(time.Duration(hour*3600+minute*60+sec) * time.Second), true
}

// twoDigits is digits for two bytes, without digits' loop: the time of
// day is three of them a record.
func twoDigits(hi, lo byte) (int, bool) {
	h, l := hi-'0', lo-'0' // a byte below '0' wraps past 9
	return int(h)*10 + int(l), h <= 9 && l <= 9
}
