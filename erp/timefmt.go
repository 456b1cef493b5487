package erp

import (
	"errors"
	"time"
)

var errTimeSyntax = errors.New("not a date or time")

// ParseTime parses the date and time forms ERP systems send:
//
//	/Date(1704067200000)/         OData V2 JSON (milliseconds since 1970, UTC)
//	/Date(1704067200000+0060)/    OData V2 with an offset in minutes (the instant is still UTC ms)
//	2024-01-01T10:00:00Z           RFC 3339, any fraction, Z or ±hh:mm
//	2024-01-01T10:00:00            no zone: interpreted in loc (nil means UTC)
//	2024-01-01                     a date: midnight in loc
//	2024-01-01-08:00, 2024-01-01Z  an XML Schema date with a zone (Workday): midnight at that offset
//
// The result is in UTC.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	return parseTime([]byte(s), loc)
}

func parseTime(b []byte, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	if len(b) > 7 && b[0] == '/' && string(b[:6]) == "/Date(" {
		return parseODataV2Date(b[6:])
	}
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return time.Time{}, errTimeSyntax
	}
	y, ok1 := atoiN(b[0:4])
	mo, ok2 := atoiN(b[5:7])
	d, ok3 := atoiN(b[8:10])
	if !ok1 || !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return time.Time{}, errTimeSyntax
	}
	if len(b) == 10 {
		return time.Date(y, time.Month(mo), d, 0, 0, 0, 0, loc).UTC(), nil
	}
	if len(b) == 11 && (b[10] == 'Z' || b[10] == 'z') {
		return time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC), nil
	}
	if len(b) == 16 && (b[10] == '+' || b[10] == '-') && b[13] == ':' {
		// An xsd:date with a zone, as Workday writes dates: midnight at that offset.
		oh, ok1 := atoiN(b[11:13])
		om, ok2 := atoiN(b[14:16])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, errTimeSyntax
		}
		off := oh*3600 + om*60
		if b[10] == '-' {
			off = -off
		}
		return time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC).Add(-time.Duration(off) * time.Second), nil
	}
	if len(b) < 19 || (b[10] != 'T' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, errTimeSyntax
	}
	h, ok1 := atoiN(b[11:13])
	mi, ok2 := atoiN(b[14:16])
	sec, ok3 := atoiN(b[17:19])
	if !ok1 || !ok2 || !ok3 || h > 24 || mi > 59 || sec > 60 {
		return time.Time{}, errTimeSyntax
	}
	rest := b[19:]
	nsec := 0
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		scale := 100000000
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			nsec += int(rest[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == 1 {
			return time.Time{}, errTimeSyntax
		}
		rest = rest[i:]
	}
	zone := loc
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
		zone = time.UTC
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := atoiN(rest[1:3])
		om, ok2 := atoiN(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, errTimeSyntax
		}
		off := oh*3600 + om*60
		if rest[0] == '-' {
			off = -off
		}
		t := time.Date(y, time.Month(mo), d, h, mi, sec, nsec, time.UTC)
		return t.Add(-time.Duration(off) * time.Second), nil
	default:
		return time.Time{}, errTimeSyntax
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, nsec, zone).UTC(), nil
}

// parseODataV2Date parses what follows "/Date(": ms[±offset])/.
func parseODataV2Date(b []byte) (time.Time, error) {
	i := 0
	neg := false
	if i < len(b) && b[i] == '-' {
		neg = true
		i++
	}
	start := i
	var ms int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if i-start >= 16 {
			return time.Time{}, errTimeSyntax
		}
		ms = ms*10 + int64(b[i]-'0')
		i++
	}
	if i == start {
		return time.Time{}, errTimeSyntax
	}
	if neg {
		ms = -ms
	}
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		// The offset only tells the zone the value was entered in; the
		// milliseconds are UTC already.
		j := i + 1
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == i+1 || j-i > 5 {
			return time.Time{}, errTimeSyntax
		}
		i = j
	}
	if len(b)-i != 2 || b[i] != ')' || b[i+1] != '/' {
		return time.Time{}, errTimeSyntax
	}
	return time.UnixMilli(ms).UTC(), nil
}

// ParseTimeOfDay parses an OData Edm.Time / Edm.TimeOfDay value, either the
// ISO 8601 duration form SAP V2 sends ("PT14H30M05S") or "14:30:05[.fff]".
func ParseTimeOfDay(s string) (time.Duration, error) { return parseTimeOfDay([]byte(s)) }

func parseTimeOfDay(b []byte) (time.Duration, error) {
	if len(b) >= 8 && b[2] == ':' && b[5] == ':' {
		h, ok1 := atoiN(b[0:2])
		m, ok2 := atoiN(b[3:5])
		s, ok3 := atoiN(b[6:8])
		if !ok1 || !ok2 || !ok3 || h > 24 || m > 59 || s > 60 {
			return 0, errTimeSyntax
		}
		d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second
		if len(b) > 8 {
			if b[8] != '.' || len(b) == 9 {
				return 0, errTimeSyntax
			}
			scale := time.Duration(100 * time.Millisecond)
			for _, c := range b[9:] {
				if c < '0' || c > '9' {
					return 0, errTimeSyntax
				}
				d += time.Duration(c-'0') * scale
				scale /= 10
			}
		}
		return d, nil
	}
	if len(b) < 3 || b[0] != 'P' || b[1] != 'T' {
		return 0, errTimeSyntax
	}
	var d time.Duration
	n, digits := 0, 0
	for _, c := range b[2:] {
		switch {
		case c >= '0' && c <= '9':
			if digits >= 6 {
				return 0, errTimeSyntax
			}
			n = n*10 + int(c-'0')
			digits++
			continue
		case digits == 0:
			return 0, errTimeSyntax
		case c == 'H':
			d += time.Duration(n) * time.Hour
		case c == 'M':
			d += time.Duration(n) * time.Minute
		case c == 'S':
			d += time.Duration(n) * time.Second
		default:
			return 0, errTimeSyntax
		}
		n, digits = 0, 0
	}
	if digits != 0 || d > 24*time.Hour {
		return 0, errTimeSyntax
	}
	return d, nil
}

func atoiN(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
