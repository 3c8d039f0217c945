package deco

import (
	"time"
)

// The common time formats eventTime recognizes without a pattern. They are parsed by hand, on
// bytes, so that reading a time allocates nothing; each parser returns the time in unix
// nanoseconds and the number of bytes it read, ok false when b does not start with its format.

// parseCommon parses a time in one of the common formats at the start of b:
//
//	RFC 3339 and relatives  2006-01-02T15:04:05Z, 2006-01-02T15:04:05.123+02:00,
//	                        2006-01-02 15:04:05,123 (log4j), a zone offset optional
//	syslog (RFC 3164)       Jan _2 15:04:05, Jan 02 15:04:05.000
//	access log              02/Jan/2006:15:04:05 -0700 (Apache, NGINX), the offset optional
//	epoch                   10 digits of seconds (with an optional .fraction), 13 of
//	                        milliseconds, 16 of microseconds or 19 of nanoseconds (one digit
//	                        fewer for times before September 2001)
//
// Times without an offset are read in loc. A syslog time has no year: it gets the year that
// puts it nearest now, so that a December line read in January lands in December of the year
// before, and a line from a clock a little ahead on New Year's Eve lands in the new year.
func parseCommon(b []byte, loc *time.Location, now time.Time) (ts int64, n int, ok bool) {
	switch {
	case len(b) == 0:
		return 0, 0, false
	case len(b) > 4 && b[4] == '-':
		return parseISO(b, loc)
	case len(b) > 2 && b[2] == '/':
		return parseAccess(b, loc)
	case isDigit(b[0]):
		return parseEpoch(b)
	}
	return parseSyslog(b, loc, now)
}

// parseISO parses 2006-01-02T15:04:05[.fraction][zone], with 'T', 't' or a space between the
// date and the time and '.' or ',' before the fraction; the zone is Z or an offset.
func parseISO(b []byte, loc *time.Location) (int64, int, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || b[13] != ':' || b[16] != ':' {
		return 0, 0, false
	}
	if c := b[10]; c != 'T' && c != 't' && c != ' ' {
		return 0, 0, false
	}
	y, ok1 := digits(b[0:4])
	mo, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, false
	}
	c, ok := parseClock(b, 11)
	if !ok {
		return 0, 0, false
	}
	n := 19
	c.nsec, n = parseFraction(b, n)
	if n < len(b) && (b[n] == 'Z' || b[n] == 'z') {
		return c.nanos(y, mo, d, 0, true, loc, n+1)
	}
	off, end := parseOffset(b, n)
	return c.nanos(y, mo, d, off, end > n, loc, end)
}

// parseAccess parses 02/Jan/2006:15:04:05[ -0700].
func parseAccess(b []byte, loc *time.Location) (int64, int, bool) {
	if len(b) < 20 || b[2] != '/' || b[6] != '/' || b[11] != ':' {
		return 0, 0, false
	}
	d, ok1 := digits(b[0:2])
	mo, ok2 := parseMonth(b[3:6])
	y, ok3 := digits(b[7:11])
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, false
	}
	c, ok := parseClock(b, 12)
	if !ok {
		return 0, 0, false
	}
	n := 20
	if n+1 < len(b) && b[n] == ' ' && (b[n+1] == '+' || b[n+1] == '-') {
		if off, end := parseOffset(b, n+1); end > n+1 {
			return c.nanos(y, mo, d, off, true, loc, end)
		}
	}
	return c.nanos(y, mo, d, 0, false, loc, n)
}

// parseSyslog parses Jan _2 15:04:05[.fraction]: the day of the month is padded with a space
// or a zero, or not at all.
func parseSyslog(b []byte, loc *time.Location, now time.Time) (int64, int, bool) {
	if len(b) < 14 || b[3] != ' ' {
		return 0, 0, false
	}
	mo, ok := parseMonth(b[0:3])
	if !ok {
		return 0, 0, false
	}
	i := 4
	if b[i] == ' ' {
		i++
	}
	j := i
	for j < len(b) && j < i+2 && isDigit(b[j]) {
		j++
	}
	d, ok := digits(b[i:j])
	if !ok || j+9 > len(b) || b[j] != ' ' {
		return 0, 0, false
	}
	c, ok := parseClock(b, j+1)
	if !ok {
		return 0, 0, false
	}
	var n int
	c.nsec, n = parseFraction(b, j+9)
	// The year that puts the time nearest now.
	var best int64
	bestDist := int64(-1)
	for y := now.Year() - 1; y <= now.Year()+1; y++ {
		ts, _, ok := c.nanos(y, mo, d, 0, false, loc, n)
		if !ok {
			continue
		}
		dist := ts - now.UnixNano()
		if dist < 0 {
			dist = -dist
		}
		if bestDist < 0 || dist < bestDist {
			best, bestDist = ts, dist
		}
	}
	return best, n, bestDist >= 0
}

// parseEpoch parses a count of seconds, milliseconds, microseconds or nanoseconds since 1970,
// told apart by their number of digits; seconds may have a fraction.
func parseEpoch(b []byte) (int64, int, bool) {
	n := 0
	var v int64
	for n < len(b) && isDigit(b[n]) && n < 19 {
		v = v*10 + int64(b[n]-'0')
		n++
	}
	if n < len(b) && isDigit(b[n]) {
		return 0, 0, false // 20 digits and more: no unit fits
	}
	var scale int64
	switch n {
	case 9, 10:
		scale = int64(time.Second)
	case 12, 13:
		scale = int64(time.Millisecond)
	case 15, 16:
		scale = int64(time.Microsecond)
	case 18, 19:
		scale = 1
		if v < 0 {
			return 0, 0, false // overflowed
		}
	default:
		return 0, 0, false
	}
	ts := v * scale
	if scale == int64(time.Second) {
		var frac int
		frac, n = parseFraction(b, n)
		ts += int64(frac)
	}
	return ts, n, true
}

// clock is a time of day read from text.
type clock struct{ hour, min, sec, nsec int }

// parseClock parses hh:mm:ss at b[i:].
func parseClock(b []byte, i int) (clock, bool) {
	if i+8 > len(b) || b[i+2] != ':' || b[i+5] != ':' {
		return clock{}, false
	}
	h, ok1 := digits(b[i : i+2])
	m, ok2 := digits(b[i+3 : i+5])
	s, ok3 := digits(b[i+6 : i+8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || s > 60 {
		return clock{}, false
	}
	return clock{hour: h, min: m, sec: s}, true
}

// nanos returns the instant of the date and c, at offset off (seconds east of UTC) when
// hasOff, in loc otherwise, passing n through. A day the month does not have is refused
// rather than rolled over. A leap second (:60) is the first second of the next minute.
func (c clock) nanos(y, mo, d, off int, hasOff bool, loc *time.Location, n int) (int64, int, bool) {
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || y < minYear || y > maxYear {
		return 0, 0, false
	}
	if hasOff {
		t := time.Date(y, time.Month(mo), d, c.hour, c.min, c.sec, c.nsec, time.UTC)
		return t.UnixNano() - int64(off)*int64(time.Second), n, true
	}
	return time.Date(y, time.Month(mo), d, c.hour, c.min, c.sec, c.nsec, loc).UnixNano(), n, true
}

// daysIn returns the number of days of month mo of year y.
func daysIn(y, mo int) int {
	switch mo {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseFraction parses a fraction of a second at b[i:], '.' or ',' then digits, and returns
// it in nanoseconds (digits past the ninth are read and dropped) with the index after it. With
// no fraction there it returns 0 and i.
func parseFraction(b []byte, i int) (int, int) {
	if i+1 >= len(b) || (b[i] != '.' && b[i] != ',') || !isDigit(b[i+1]) {
		return 0, i
	}
	ns, scale := 0, int(time.Second)
	j := i + 1
	for ; j < len(b) && isDigit(b[j]); j++ {
		if scale > 1 {
			scale /= 10
			ns += int(b[j]-'0') * scale
		}
	}
	return ns, j
}

// parseOffset parses a zone offset at b[i:]: a sign, two digits of hours, then optionally two
// of minutes, with or without a colon. It returns the offset in seconds east of UTC and the
// index after it, i when there is none.
func parseOffset(b []byte, i int) (int, int) {
	if i+3 > len(b) || (b[i] != '+' && b[i] != '-') {
		return 0, i
	}
	h, ok := digits(b[i+1 : i+3])
	if !ok || h > 23 {
		return 0, i
	}
	end, m := i+3, 0
	j := end
	if j < len(b) && b[j] == ':' {
		j++
	}
	if j+2 <= len(b) {
		if v, ok := digits(b[j : j+2]); ok && v < 60 {
			end, m = j+2, v
		}
	}
	off := h*3600 + m*60
	if b[i] == '-' {
		off = -off
	}
	return off, end
}

// monthNames are the English month abbreviations in lower case, in order.
const monthNames = "janfebmaraprmayjunjulaugsepoctnovdec"

// parseMonth parses an English three-letter month name, in any case.
func parseMonth(b []byte) (int, bool) {
	if len(b) != 3 {
		return 0, false
	}
	// Setting bit 0x20 lower-cases a letter; no other byte becomes a letter by it.
	c0, c1, c2 := b[0]|0x20, b[1]|0x20, b[2]|0x20
	for m := 0; m < 12; m++ {
		if monthNames[3*m] == c0 && monthNames[3*m+1] == c1 && monthNames[3*m+2] == c2 {
			return m + 1, true
		}
	}
	return 0, false
}
