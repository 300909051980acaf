package cloudtrail

import "time"

// parseTimeBytes is parseTime on the bytes of a JSON string, without
// making a string of them: eventTime is unique to nearly every record, so
// its string would be garbage the moment it was parsed. The shape
// CloudTrail writes, 2006-01-02T15:04:05Z with every field in range, is
// read here; anything else, valid or not, goes to parseTime, which decides
// and words the rejection.
func parseTimeBytes(b []byte) (time.Time, error) {
	if t, ok := parseZulu(b); ok {
		return t, nil
	}
	return parseTime(string(b))
}

// parseZulu reads exactly YYYY-MM-DDTHH:MM:SSZ with a valid date and a
// time of day from 00:00:00 to 23:59:59, as time.Parse(time.RFC3339Nano)
// reads it; ok is false for everything else.
func parseZulu(b []byte) (t time.Time, ok bool) {
	if len(b) != len("2006-01-02T15:04:05Z") || b[4] != '-' || b[7] != '-' || b[10] != 'T' ||
		b[13] != ':' || b[16] != ':' || b[19] != 'Z' {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC), true
}

// digits reads b as a decimal number of ASCII digits only.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysIn returns the number of days of month m of year (proleptic
// Gregorian, as package time counts).
func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 30 + int((m+m/8)%2)
}
