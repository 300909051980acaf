package cloudtrail

import (
	"net/netip"
	"time"
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

	day    [10]byte  // the last eventTime's date, YYYY-MM-DD; zero before any
	dayUTC time.Time // its midnight, UTC
}

// sourceIP returns what netip.ParseAddr makes of s, when s may be an IP
// (mayBeIP), and the zero Addr otherwise.
func (m *fillMemo) sourceIP(s string) netip.Addr {
	if m != nil && s == m.ipText && s != "" {
		return m.ip
	}
	var ip netip.Addr
	if mayBeIP(s) {
		if a, err := netip.ParseAddr(s); err == nil {
			ip = a
		}
	}
	if m != nil {
		m.ipText, m.ip = s, ip
	}
	return ip
}

// zulu is parseZulu, taking the date from the memo when it is the last
// one's: only the time of day is read.
func (m *fillMemo) zulu(b []byte) (time.Time, bool) {
	if m == nil || len(b) != len("2006-01-02T15:04:05Z") || string(b[:10]) != string(m.day[:]) {
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
	hour, ok1 := digits(b[11:13])
	minute, ok2 := digits(b[14:16])
	sec, ok3 := digits(b[17:19])
	if !(ok1 && ok2 && ok3) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return m.dayUTC.Add(time.Duration(hour*3600+minute*60+sec) * time.Second), true
}
