package javatime

import (
	"strconv"
	"time"
)

// Format returns t formatted with the layout, in t's location.
func (l *Layout) Format(t time.Time) string {
	return string(l.AppendFormat(make([]byte, 0, len(l.pattern)+16), t))
}

// AppendFormat appends t formatted with the layout, in t's location, to dst.
func (l *Layout) AppendFormat(dst []byte, t time.Time) []byte {
	for _, e := range l.elems {
		if e.letter == 0 {
			dst = append(dst, e.text...)
			continue
		}
		dst = appendField(dst, e.letter, e.count, t)
	}
	return dst
}

func appendField(dst []byte, letter byte, n int, t time.Time) []byte {
	switch letter {
	case 'G':
		return append(dst, eraNames[era(t.Year())]...)
	case 'y':
		return appendYear(dst, yearOfEra(t.Year()), n)
	case 'Y':
		wy, _ := weekOfYear(t)
		return appendYear(dst, yearOfEra(wy), n)
	case 'M', 'L':
		m := int(t.Month())
		switch {
		case n >= 4:
			return append(dst, monthNames[m-1]...)
		case n == 3:
			return append(dst, monthShort[m-1]...)
		}
		return appendNum(dst, m, n)
	case 'w':
		_, w := weekOfYear(t)
		return appendNum(dst, w, n)
	case 'W':
		return appendNum(dst, weekOfMonth(t), n)
	case 'D':
		return appendNum(dst, t.YearDay(), n)
	case 'd':
		return appendNum(dst, t.Day(), n)
	case 'F':
		return appendNum(dst, (t.Day()-1)/7+1, n)
	case 'E':
		if n >= 4 {
			return append(dst, dayNames[t.Weekday()]...)
		}
		return append(dst, dayShort[t.Weekday()]...)
	case 'u':
		return appendNum(dst, (int(t.Weekday())+6)%7+1, n)
	case 'a':
		return append(dst, ampmNames[t.Hour()/12]...)
	case 'H':
		return appendNum(dst, t.Hour(), n)
	case 'k':
		return appendNum(dst, (t.Hour()+23)%24+1, n)
	case 'K':
		return appendNum(dst, t.Hour()%12, n)
	case 'h':
		return appendNum(dst, (t.Hour()+11)%12+1, n)
	case 'm':
		return appendNum(dst, t.Minute(), n)
	case 's':
		return appendNum(dst, t.Second(), n)
	case 'S':
		return appendNum(dst, t.Nanosecond()/int(time.Millisecond), n)
	case 'z':
		return appendZoneName(dst, t, n >= 4)
	case 'Z':
		_, off := t.Zone()
		return appendOffset(dst, off, true, false)
	case 'X':
		_, off := t.Zone()
		if off == 0 {
			return append(dst, 'Z')
		}
		return appendOffset(dst, off, n >= 2, n == 3)
	}
	return dst
}

// appendYear writes a year as SimpleDateFormat does: "yy" keeps the last two digits, any
// other width is a minimum number of digits.
func appendYear(dst []byte, y, n int) []byte {
	if n == 2 {
		return appendNum(dst, y%100, 2)
	}
	return appendNum(dst, y, n)
}

// appendNum writes v with at least width digits, zero-padded.
func appendNum(dst []byte, v, width int) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
		width--
	}
	digits := 1
	for x := v; x >= 10; x /= 10 {
		digits++
	}
	for ; digits < width; digits++ {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(v), 10)
}

// appendOffset writes a zone offset as +hh, +hhmm or +hh:mm.
func appendOffset(dst []byte, off int, minutes, colon bool) []byte {
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	off /= 60
	dst = appendNum(append(dst, sign), off/60, 2)
	if !minutes {
		return dst
	}
	if colon {
		dst = append(dst, ':')
	}
	return appendNum(dst, off%60, 2)
}

// era returns 0 (BC) for years before 1 and 1 (AD) otherwise. Go's year 0 is 1 BC.
func era(y int) int {
	if y < 1 {
		return 0
	}
	return 1
}

// yearOfEra converts a proleptic Gregorian year (0 = 1 BC) to the year counted within its era.
func yearOfEra(y int) int {
	if y < 1 {
		return 1 - y
	}
	return y
}

// civilDay returns the day number of t's calendar date, for counting days between dates
// without time zone or daylight saving effects.
func civilDay(y int, m time.Month, d int) int {
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// week1Start returns the civil day number of the Sunday that starts week 1 of year y: the week
// holding January 1st.
func week1Start(y int) int {
	jan1 := time.Date(y, time.January, 1, 0, 0, 0, 0, time.UTC)
	return civilDay(y, time.January, 1) - int(jan1.Weekday())
}

// weekOfYear returns the week year and week number of t: weeks start on Sunday, and the week
// holding January 1st is week 1, so the last days of December may be in week 1 of the next
// week year.
func weekOfYear(t time.Time) (weekYear, week int) {
	y, m, d := t.Date()
	day := civilDay(y, m, d)
	if next := week1Start(y + 1); day >= next {
		return y + 1, 1
	}
	return y, (day-week1Start(y))/7 + 1
}

// weekOfMonth returns the week of the month of t; week 1 holds the 1st.
func weekOfMonth(t time.Time) int {
	y, m, d := t.Date()
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Weekday()
	return (d-1+int(first))/7 + 1
}
